"""SQL for audit events. Append-only: there is no update or delete here."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, events: Iterable[AuditEvent]) -> None:
        self.session.add_all(list(events))
        await self.session.flush()
