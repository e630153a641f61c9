"""Rules for webhook endpoints: register, change, rotate the secret, test, retry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import Caller
from app.crypto import Envelope
from app.db import utcnow
from app.errors import InvalidRequest, NotFound, WebhookDisabled
from app.pagination import PageRequest
from app.webhooks import signing
from app.webhooks.events import TEST_EVENT, emit, wake_after_commit
from app.webhooks.hosts import check_url
from app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhooks.repository import WebhookRepository
from app.webhooks.schemas import WebhookCreate, WebhookPatch


async def create_endpoint(
    session: AsyncSession,
    envelope: Envelope,
    *,
    caller: Caller,
    body: WebhookCreate,
    allowed_hosts: frozenset[str],
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; its signing secret is returned here and never again."""
    url = check_url(body.url, allowed_hosts)
    endpoint_id, secret, now = uuid.uuid4(), signing.new_secret(), utcnow()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        url=url,
        events=sorted(set(body.events)),
        description=body.description,
        enabled=True,
        secret_version=1,
        sealed_secret=await signing.seal(envelope, secret, endpoint_id, 1),
        created_at=now,
        updated_at=now,
    )
    await WebhookRepository(session).add_endpoint(endpoint)
    _audit(session, "webhook.created", caller, endpoint, {"events": endpoint.events})
    return endpoint, secret


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await WebhookRepository(session).get_endpoint(endpoint_id)
    if endpoint is None:
        raise NotFound(f"No webhook endpoint with id {endpoint_id}.")
    return endpoint


async def list_endpoints(session: AsyncSession, *, page: PageRequest) -> Sequence[WebhookEndpoint]:
    return await WebhookRepository(session).page_endpoints(
        limit=page.limit, after=page.after_time_id()
    )


async def list_deliveries(
    session: AsyncSession, *, endpoint_id: uuid.UUID, page: PageRequest
) -> Sequence[tuple[WebhookDelivery, WebhookEvent]]:
    endpoint = await get_endpoint(session, endpoint_id)
    return await WebhookRepository(session).deliveries_page(
        endpoint.id, limit=page.limit, before_seq=page.after_int()
    )


async def update_endpoint(
    session: AsyncSession,
    *,
    caller: Caller,
    endpoint_id: uuid.UUID,
    patch: WebhookPatch,
    allowed_hosts: frozenset[str],
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, endpoint_id)
    changed = patch.model_dump(exclude_unset=True)
    for field in ("url", "events", "description", "enabled"):
        if field in changed and changed[field] is None:
            raise InvalidRequest(f"{field} cannot be null.", details={"field": field})
    if patch.url is not None:
        endpoint.url = check_url(patch.url, allowed_hosts)
    if patch.events is not None:
        endpoint.events = sorted(set(patch.events))
    if patch.description is not None:
        endpoint.description = patch.description
    if patch.enabled is not None:
        endpoint.enabled = patch.enabled
        endpoint.disabled_reason = None if patch.enabled else "disabled by an operator"
        endpoint.failing_since = None
    endpoint.updated_at = utcnow()
    await WebhookRepository(session).flush()
    _audit(session, "webhook.updated", caller, endpoint, {"fields": sorted(changed)})
    return endpoint


async def delete_endpoint(session: AsyncSession, *, caller: Caller, endpoint_id: uuid.UUID) -> None:
    """Remove the endpoint, its sealed secrets and its deliveries."""
    endpoint = await get_endpoint(session, endpoint_id)
    await WebhookRepository(session).delete_endpoint(endpoint)
    _audit(session, "webhook.deleted", caller, endpoint, {})


async def rotate_secret(
    session: AsyncSession,
    envelope: Envelope,
    *,
    caller: Caller,
    endpoint_id: uuid.UUID,
    grace_seconds: float,
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the old one signs beside it for ``grace_seconds``, so
    a receiver can switch without refusing a delivery."""
    endpoint = await get_endpoint(session, endpoint_id)
    secret, version = signing.new_secret(), endpoint.secret_version + 1
    endpoint.sealed_previous_secret = endpoint.sealed_secret if grace_seconds > 0 else None
    endpoint.previous_secret_until = (
        utcnow() + timedelta(seconds=grace_seconds) if grace_seconds > 0 else None
    )
    endpoint.sealed_secret = await signing.seal(envelope, secret, endpoint.id, version)
    endpoint.secret_version = version
    endpoint.updated_at = utcnow()
    await WebhookRepository(session).flush()
    _audit(session, "webhook.secret_rotated", caller, endpoint, {"grace_seconds": grace_seconds})
    return endpoint, secret


async def send_test(
    session: AsyncSession, *, caller: Caller, endpoint_id: uuid.UUID
) -> tuple[WebhookEvent, WebhookDelivery]:
    """Queue a ``webhook.test`` event for this endpoint alone."""
    endpoint = await get_endpoint(session, endpoint_id)
    if not endpoint.enabled:
        raise WebhookDisabled(
            "This endpoint is disabled; enable it (PATCH enabled=true) before testing it.",
            details={"endpoint_id": str(endpoint.id)},
        )
    data = {"endpoint_id": str(endpoint.id), "message": "A test event from the vault."}
    event = await emit(session, TEST_EVENT, data, only_endpoint=endpoint.id)
    assert event is not None  # noqa: S101  (the endpoint exists and is enabled)
    delivery = await WebhookRepository(session).delivery_of(event.seq, endpoint.id)
    _audit(session, "webhook.tested", caller, endpoint, {"event_id": event.id})
    return event, delivery


async def get_delivery(
    session: AsyncSession,
    *,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    for_update: bool = False,
) -> WebhookDelivery:
    delivery = await WebhookRepository(session).delivery(
        endpoint_id, delivery_id, for_update=for_update
    )
    if delivery is None:
        raise NotFound(f"No delivery {delivery_id} for webhook endpoint {endpoint_id}.")
    return delivery


async def retry_delivery(
    session: AsyncSession, *, caller: Caller, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, WebhookEvent]:
    """Send a delivery again as soon as possible, whatever became of it."""
    endpoint = await get_endpoint(session, endpoint_id)
    delivery = await get_delivery(
        session, endpoint_id=endpoint.id, delivery_id=delivery_id, for_update=True
    )
    # Both written whole, after any outcome being settled: a dispatcher that sees the due
    # time moved keeps the delivery pending (app.webhooks.dispatcher).
    delivery.state, delivery.next_attempt_at = "pending", utcnow()
    await WebhookRepository(session).flush()
    wake_after_commit(session)
    _audit(session, "webhook.retried", caller, endpoint, {"delivery_id": str(delivery.id)})
    return delivery, await WebhookRepository(session).event(delivery.event_seq)


def _audit(
    session: AsyncSession,
    action: str,
    caller: Caller | None,
    endpoint: WebhookEndpoint,
    details: dict[str, object],
) -> None:
    record(
        session,
        action=action,
        caller=caller,
        details={"endpoint_id": str(endpoint.id), "host": _host(endpoint.url), **details},
    )


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0]
