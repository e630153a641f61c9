"""Emitting an event: one call, inside the transaction of the change that caused it.

    await emit(session, "credential.invalid", credential_data(credential, reason="drift"))

writes the event and one pending delivery per subscribed, enabled endpoint. Nothing leaves the
process here: if the transaction rolls back, the event never existed; once it commits, the
dispatcher of some replica delivers it, even if this process dies the next instant. After the
commit, this process's dispatcher is woken so delivery does not wait for its next poll.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db import utcnow
from app.keys.binding import CredentialRef
from app.webhooks.models import WebhookDelivery, WebhookEvent
from app.webhooks.repository import WebhookRepository
from app.webhooks.schemas import EVENT_TYPES

TEST_EVENT = "webhook.test"
# What ``data`` may carry: identifiers and states. A key outside this set is a programming
# error, refused before anything is written, so a secret cannot slip into a payload.
ALLOWED_FIELDS = frozenset(
    {
        "credential_id",
        "connection_id",
        "intake_link_id",
        "endpoint_id",
        "account_id",
        "market",
        "environment",
        "kind",
        "status",
        "reason",
        "version",
        "days_left",
        "expires_at",
        "message",
    }
)
INVALID_REASONS = frozenset({"drift", "reconnect_required", "test_failed"})

_wakers: set[Callable[[], None]] = set()


class CredentialLike(CredentialRef, Protocol):
    """A credential whose event is told: what binds its secrets, and where it stands."""

    @property
    def status(self) -> str: ...


def credential_data(credential: CredentialLike, **extra: Any) -> dict[str, Any]:
    """The payload of a credential's event: who it belongs to and where it stands."""
    return {
        "credential_id": str(credential.id),
        "account_id": credential.account_id,
        "market": credential.market,
        "environment": credential.environment,
        "status": credential.status,
        **extra,
    }


async def emit(
    session: AsyncSession,
    type: str,
    data: dict[str, Any],
    *,
    only_endpoint: uuid.UUID | None = None,
) -> WebhookEvent | None:
    """Queue an event for every endpoint subscribed to ``type`` (or only ``only_endpoint``,
    for a test event); ``None`` when nobody is subscribed."""
    _check(type, data)
    repo = WebhookRepository(session)
    if only_endpoint is not None:
        endpoint = await repo.get_endpoint(only_endpoint)
        endpoints = [endpoint] if endpoint is not None else []
    else:
        endpoints = [e for e in await repo.enabled_endpoints() if type in e.events]
    if not endpoints:
        return None
    ordering_key = data.get("credential_id") or data.get("connection_id")
    now = utcnow()
    event = WebhookEvent(
        id=f"msg_{uuid.uuid4().hex}",
        type=type,
        ordering_key=ordering_key,
        data=data,
        created_at=now,
    )
    await repo.add_event(event)
    await repo.add_deliveries(
        WebhookDelivery(
            event_seq=event.seq,
            endpoint_id=endpoint.id,
            ordering_key=ordering_key,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            history=[],
            created_at=now,
        )
        for endpoint in endpoints
    )
    wake_after_commit(session)
    return event


def _check(type: str, data: dict[str, Any]) -> None:
    if type not in EVENT_TYPES and type != TEST_EVENT:
        raise ValueError(f"unknown webhook event type {type!r}")
    unknown = set(data) - ALLOWED_FIELDS
    if unknown:
        raise ValueError(f"webhook payload fields not allowed: {sorted(unknown)}")
    if type == "credential.invalid" and data.get("reason") not in INVALID_REASONS:
        raise ValueError("credential.invalid needs a reason")


def wake_after_commit(session: AsyncSession) -> None:
    """Once this transaction commits, wake this process's dispatchers."""
    sync = session.sync_session
    sync.info["webhooks_pending"] = True
    if not sync.info.get("webhooks_listening"):
        sync.info["webhooks_listening"] = True
        sa_event.listen(sync, "after_commit", _wake_dispatchers)


def _wake_dispatchers(session: Session) -> None:
    if session.info.pop("webhooks_pending", False):
        for wake in list(_wakers):
            wake()


def add_waker(wake: Callable[[], None]) -> None:
    """A dispatcher of this process that wants to hear of committed events at once."""
    _wakers.add(wake)


def remove_waker(wake: Callable[[], None]) -> None:
    _wakers.discard(wake)
