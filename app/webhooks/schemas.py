"""Wire shapes for webhook endpoints and their deliveries. The signing secret goes out once,
in the answer that created (or rotated) it, and never again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# The event types a subscription names (the outside contract's list); ``app.webhooks.events``
# emits only these, and the test event.
EventType = Literal[
    "credential.invalid",
    "credential.recovered",
    "credential.rotated",
    "credential.disabled",
    "credential.deleted",
    "refresh_token.expiring",
    "connection.completed",
    "connection.failed",
    "intake_link.used",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

WebhookUrl = Annotated[str, Field(min_length=8, max_length=2048)]
EventList = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES))]
Description = Annotated[str, Field(max_length=500)]
SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105  (documentation)
ENDPOINT_EXAMPLE: dict[str, Any] = {
    "url": "https://hooks.mports.example/walmart-vault",
    "events": ["credential.invalid", "credential.recovered"],
    "description": "Seller front end: show 'reconnect your Walmart account'",
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ENDPOINT_EXAMPLE]})

    url: WebhookUrl
    events: EventList
    description: Description = ""


class WebhookPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enabled": True}, {"events": ["credential.invalid"]}]},
    )

    url: WebhookUrl | None = None
    events: EventList | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None, description="Turn an endpoint off, or back on after it was disabled."
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})

    grace_seconds: float | None = Field(
        default=None,
        ge=0,
        le=7 * 86400,
        description="How long the old secret keeps signing beside the new one "
        "(default VAULT_WEBHOOK_SECRET_GRACE_SECONDS).",
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    secret_version: int
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(
        description="The signing secret, shown this once; verify deliveries with it.",
        examples=[SECRET_EXAMPLE],
    )


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null if none.")
    latency_ms: float
    error: str | None = Field(description="Why there was no 2xx (timeout, refused, ...).")


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: str = Field(description="The webhook-id header of the delivery.")
    event_type: str
    state: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    history: list[Attempt] = Field(description="The last attempts, oldest first.")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class Queued(BaseModel):
    event_id: str
    delivery_id: uuid.UUID
