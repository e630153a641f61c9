"""How a seller's callback ends, on record: ``completed`` and ``failed`` are the one place that
writes ``connection.completed`` and ``connection.failed`` (the link's status, the audit event
and the webhook). A failure stores no secret."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import Caller
from app.connections.models import Connection
from app.connections.repository import ConnectionRepository
from app.connections.storing import StoredConnection
from app.db import utcnow
from app.walmart.outcomes import WalmartFailure
from app.webhooks.events import emit


@dataclass(frozen=True, slots=True)
class CallbackResult:
    outcome: str  # "connected", "rate_limited" or a failure code of ``outcomes.PAGES``
    connection: Connection | None = None
    credential_id: uuid.UUID | None = None
    retry_after_seconds: int = 0


def callback_caller(connection: Connection, request_id: str | None) -> Caller:
    # The seller's browser has no API token: events are attributed to the client that made
    # the link.
    return Caller(
        client_id=connection.created_by,
        name="connection-callback",
        scopes=frozenset(),
        account_ids=None,
        request_id=request_id,
    )


def walmart_details(failure: WalmartFailure) -> dict[str, Any]:
    return {
        "outcome": failure.outcome,
        "walmart_status": failure.status,
        "walmart_error_code": failure.error_code,
        "correlation_id": failure.correlation_id,
    }


async def completed(
    session: AsyncSession, connection: Connection, stored: StoredConnection, request_id: str | None
) -> CallbackResult:
    connection.status, connection.credential_id = "connected", stored.credential_id
    connection.completed_at = utcnow()
    await ConnectionRepository(session).flush()
    record(
        session,
        action="connection.completed",
        caller=callback_caller(connection, request_id),
        account_id=connection.account_id,
        credential_id=stored.credential_id,
        version=stored.version,
        details={"connection_id": str(connection.id), "seller_id": stored.seller_id},
    )
    await emit(session, "connection.completed", _event_data(connection, stored.credential_id))
    return CallbackResult("connected", connection, stored.credential_id)


def _event_data(connection: Connection, credential_id: uuid.UUID | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "connection_id": str(connection.id),
        "account_id": connection.account_id,
        "market": connection.market,
        "environment": connection.environment,
        "status": connection.status,
    }
    if credential_id is not None:
        data["credential_id"] = str(credential_id)
    return data


async def failed(
    session: AsyncSession,
    connection: Connection | None,
    code: str,
    request_id: str | None,
    walmart: dict[str, Any] | None = None,
) -> CallbackResult:
    """Record a failed callback; a link still pending becomes ``failed`` (it was claimed)."""
    if connection is not None and connection.status == "pending":
        connection.status = "failed"
        connection.error = {"code": code, **({"walmart": walmart} if walmart else {})}
        connection.completed_at = utcnow()
        await ConnectionRepository(session).flush()
    elif connection is not None and connection.status == "expired":
        await ConnectionRepository(session).flush()
    details: dict[str, Any] = {"reason": code}
    if connection is not None:
        details["connection_id"] = str(connection.id)
    if walmart:
        details["walmart"] = {
            k: walmart.get(k)
            for k in ("outcome", "walmart_status", "walmart_error_code", "correlation_id")
        }
    record(
        session,
        action="connection.failed",
        caller=callback_caller(connection, request_id) if connection else None,
        outcome=code,
        account_id=connection.account_id if connection else None,
        details=details,
    )
    if connection is not None and code != "state_used":
        # A link that just ended (a replay of a finished one announces nothing new).
        await emit(session, "connection.failed", _event_data(connection) | {"reason": code})
    return CallbackResult(code, connection)
