"""HTTP for webhook endpoints (admin, all accounts: an endpoint hears of every seller)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body, Response, status

from app.auth import ClientAdminCaller
from app.db import SessionDep
from app.deps import StateDep
from app.errors import error_responses
from app.pagination import PageDep, cut, int_cursor, time_id_cursor_of
from app.webhooks import service
from app.webhooks.schemas import (
    Attempt,
    DeliveryOut,
    DeliveryPage,
    Queued,
    SecretRotation,
    WebhookCreate,
    WebhookOut,
    WebhookPage,
    WebhookPatch,
    WebhookWithSecret,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _with_secret(endpoint: object, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**WebhookOut.model_validate(endpoint).model_dump(), secret=secret)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookWithSecret,
    responses=error_responses(401, 403, 422, 503),
    summary="Subscribe a URL to events; its signing secret is shown this once",
)
async def create_webhook(
    body: WebhookCreate, caller: ClientAdminCaller, session: SessionDep, state: StateDep
) -> WebhookWithSecret:
    endpoint, secret = await service.create_endpoint(
        session,
        state.envelope,
        caller=caller,
        body=body,
        allowed_hosts=state.settings.webhook_hosts,
    )
    return _with_secret(endpoint, secret)


@router.get(
    "",
    response_model=WebhookPage,
    responses=error_responses(401, 403, 422, 503),
    summary="List webhook endpoints (never their secrets)",
)
async def list_webhooks(
    caller: ClientAdminCaller, session: SessionDep, page: PageDep
) -> WebhookPage:
    rows = await service.list_endpoints(session, page=page)
    shown, cursor = cut(rows, page, time_id_cursor_of)
    return WebhookPage(items=[WebhookOut.model_validate(e) for e in shown], next_cursor=cursor)


@router.patch(
    "/{webhook_id}",
    response_model=WebhookOut,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Change an endpoint's URL, events or description, or turn it off and on",
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookPatch,
    caller: ClientAdminCaller,
    session: SessionDep,
    state: StateDep,
) -> WebhookOut:
    endpoint = await service.update_endpoint(
        session,
        caller=caller,
        endpoint_id=webhook_id,
        patch=body,
        allowed_hosts=state.settings.webhook_hosts,
    )
    return WebhookOut.model_validate(endpoint)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Delete an endpoint, its secret and its deliveries",
)
async def delete_webhook(
    webhook_id: uuid.UUID, caller: ClientAdminCaller, session: SessionDep
) -> Response:
    await service.delete_endpoint(session, caller=caller, endpoint_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Make a new signing secret (shown once); the old one signs too for a grace period",
)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID,
    caller: ClientAdminCaller,
    session: SessionDep,
    state: StateDep,
    # Optional, so the schema is "SecretRotation or null": the example goes on the body itself.
    body: SecretRotation | None = Body(default=None, examples=[{"grace_seconds": 3600}]),  # noqa: B008
) -> WebhookWithSecret:
    grace = body.grace_seconds if body is not None else None
    endpoint, secret = await service.rotate_secret(
        session,
        state.envelope,
        caller=caller,
        endpoint_id=webhook_id,
        grace_seconds=state.settings.webhook_secret_grace_seconds if grace is None else grace,
    )
    return _with_secret(endpoint, secret)


@router.post(
    "/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Queued,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Queue a signed webhook.test event for this endpoint",
)
async def test_webhook(
    webhook_id: uuid.UUID, caller: ClientAdminCaller, session: SessionDep
) -> Queued:
    event, delivery = await service.send_test(session, caller=caller, endpoint_id=webhook_id)
    return Queued(event_id=event.id, delivery_id=delivery.id)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Deliveries to this endpoint, newest first, with their attempts",
)
async def list_deliveries(
    webhook_id: uuid.UUID, caller: ClientAdminCaller, session: SessionDep, page: PageDep
) -> DeliveryPage:
    rows = await service.list_deliveries(session, endpoint_id=webhook_id, page=page)
    shown, cursor = cut(rows, page, lambda row: int_cursor(row[1].seq))
    items = [
        DeliveryOut(
            id=delivery.id,
            event_id=event.id,
            event_type=event.type,
            state=delivery.state,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if delivery.state == "pending" else None,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            history=[Attempt.model_validate(a) for a in delivery.history],
        )
        for delivery, event in shown
    ]
    return DeliveryPage(items=items, next_cursor=cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Queued,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Send a delivery again now, whatever became of it",
)
async def retry_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, caller: ClientAdminCaller, session: SessionDep
) -> Queued:
    delivery, event = await service.retry_delivery(
        session, caller=caller, endpoint_id=webhook_id, delivery_id=delivery_id
    )
    return Queued(event_id=event.id, delivery_id=delivery.id)
