"""Writing audit events: in the same transaction as the change they record, as its last work.

``record`` only queues an event on the session; ``transaction`` appends the queue just before
it commits. Appending takes the chain head's lock, which every audited write across replicas
waits for, so it is taken as late as possible: a write that appended first held the lock
through the rest of its work, and under load the head's waiters queued for seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import PreparedEvent, prepare
from app.audit.repository import AuditRepository
from app.auth import Caller
from app.db import before_commit, utcnow

_QUEUED = "audit.queued"


def record(
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
    """Add one event to the caller's transaction; it commits or rolls back with the change."""
    _queue(
        session, [_prepared(action, caller, outcome, account_id, credential_id, version, details)]
    )


def record_all(session: AsyncSession, events: Iterable[Mapping[str, Any]]) -> None:
    """Add many events (each ``record``'s keyword arguments). A transaction's events are
    appended in one chained write: a bulk import links a batch's hashes with one update of the
    chain head, not one per event."""
    _queue(
        session,
        (
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
        ),
    )


def _queue(session: AsyncSession, events: Iterable[PreparedEvent]) -> None:
    queued: list[PreparedEvent] | None = session.info.get(_QUEUED)
    if queued is None:
        queued = session.info[_QUEUED] = []
        before_commit(session, _append_queued)
    queued.extend(events)


async def _append_queued(session: AsyncSession) -> None:
    await AuditRepository(session).append(session.info.pop(_QUEUED))


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
