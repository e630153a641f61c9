"""Writing audit events: in the same transaction as the change they record."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import prepare
from app.audit.repository import AuditRepository
from app.clients.scopes import Caller
from app.db import utcnow


async def record(
    session: AsyncSession,
    *,
    action: str,
    caller: Caller | None,
    outcome: str = "success",
    account_id: str | None = None,
    credential_id: uuid.UUID | None = None,
    version: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event to the caller's transaction; it commits or rolls back with the change."""
    event = {
        "at": utcnow(),
        "action": action,
        "outcome": outcome,
        "client_id": caller.client_id if caller else None,
        "request_id": caller.request_id if caller else None,
        "account_id": account_id,
        "credential_id": credential_id,
        "version": version,
        "details": details or {},
    }
    await AuditRepository(session).append([prepare(event)])
