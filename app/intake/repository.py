"""SQL for hand-over links. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.intake.models import MAX_FAILURES, IntakeLink
from app.pagination import by_time_id, for_accounts


class IntakeLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, link: IntakeLink) -> None:
        self.session.add(link)
        await self.session.flush()

    async def get(self, link_id: uuid.UUID) -> IntakeLink | None:
        return await self.session.get(IntakeLink, link_id)

    async def by_token_hash(self, token_hash: str) -> IntakeLink | None:
        result = await self.session.execute(
            select(IntakeLink).where(IntakeLink.token_hash == token_hash)
        )
        return result.scalar_one_or_none()

    async def page(
        self,
        *,
        account_id: str | None,
        account_ids: frozenset[str] | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> Sequence[IntakeLink]:
        query = for_accounts(
            select(IntakeLink),
            IntakeLink.account_id,
            account_id=account_id,
            account_ids=account_ids,
        )
        query = by_time_id(query, IntakeLink.created_at, IntakeLink.id, limit=limit, after=after)
        return (await self.session.execute(query)).scalars().all()

    async def claim(self, link_id: uuid.UUID, *, now: datetime, until: datetime) -> bool:
        """Take the submission lease of a working link; False if it stopped working or another
        submission holds the lease. One statement, so two replicas cannot both win."""
        result = await self.session.execute(
            update(IntakeLink)
            .where(
                IntakeLink.id == link_id,
                IntakeLink.used_at.is_(None),
                IntakeLink.revoked_at.is_(None),
                IntakeLink.failures < MAX_FAILURES,
                IntakeLink.expires_at > now,
                (IntakeLink.busy_until.is_(None)) | (IntakeLink.busy_until <= now),
            )
            .values(busy_until=until)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def flush(self) -> None:
        await self.session.flush()
