"""Writing audit events: in the same transaction as the change they record."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import PreparedEvent, prepare
from app.audit.repository import AuditRepository
from app.auth import Caller
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
    await AuditRepository(session).append(
        [_prepared(action, caller, outcome, account_id, credential_id, version, details)]
    )


async def record_all(session: AsyncSession, events: Iterable[Mapping[str, Any]]) -> None:
    """Append many events (each ``record``'s keyword arguments) in one chained write: a bulk
    import links a batch's hashes with one update of the chain head, not one per event."""
    await AuditRepository(session).append(
        _prepared(
            e["action"],
            e["caller"],
            e.get("outcome", "success"),
            e.get("account_id"),
            e.get("credential_id"),
            e.get("version"),
            e.get("details"),
        )
        for e in events
    )


def _prepared(
    action: str,
    caller: Caller | None,
    outcome: str,
    account_id: str | None,
    credential_id: uuid.UUID | None,
    version: int | None,
    details: dict[str, Any] | None,
) -> PreparedEvent:
    return prepare(
        {
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
    )
