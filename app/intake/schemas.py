"""Wire shapes for hand-over links. The link's URL (its token) goes out once, at creation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.fields import AccountId, Environment, Label, Market
from app.intake.models import LinkState

DEFAULT_HOURS = 72
MAX_HOURS = 7 * 24

LinkKind = Literal["signature", "oauth"]


class IntakeLinkCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "acme-ca",
                    "market": "CA",
                    "environment": "production",
                    "kind": "signature",
                    "label": "Acme Canada",
                },
                {
                    "account_id": "acme-ca",
                    "market": "CA",
                    "environment": "production",
                    "kind": "signature",
                    "label": "Acme Canada",
                    "credential_id": "3f0c9a4e-6a43-4c1e-9a57-1d2b0f3c8e11",
                    "expires_in_hours": 24,
                },
            ]
        },
    )

    account_id: AccountId
    market: Market
    environment: Environment
    kind: LinkKind = Field(
        description="`signature` (Consumer ID + Private Key, Canada) or `oauth` "
        "(Client ID + Client Secret)."
    )
    label: Label = Field(description="The credential's label; shown to the seller on the form.")
    credential_id: uuid.UUID | None = Field(
        default=None,
        description="Rotate this credential instead of registering a new one (the seller "
        "pressed Regenerate Key); it must be of this account, market, environment and kind.",
    )
    expires_in_hours: Annotated[int, Field(ge=1, le=MAX_HOURS)] = Field(
        default=DEFAULT_HOURS, description="Hours until the link stops working (1 to 168)."
    )


class IntakeLinkOut(BaseModel):
    id: uuid.UUID
    account_id: str
    market: Market
    environment: Environment
    kind: LinkKind
    label: str
    credential_id: uuid.UUID | None
    state: LinkState = Field(
        description="`active`, or why it stopped: `used`, `expired`, `revoked`, `failed` "
        "(5 failed submissions)."
    )
    failures: int
    created_at: datetime
    created_by: uuid.UUID | None
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None
    result_credential_id: uuid.UUID | None = Field(
        description="The credential the seller's submission registered or rotated."
    )


class IntakeLinkCreated(IntakeLinkOut):
    url: str = Field(
        description="The link to send the seller; shown this once and never again.",
        examples=["https://vault.example.com/intake/mpvl_2m3Q..."],
    )


class IntakeLinkPage(BaseModel):
    items: list[IntakeLinkOut]
    next_cursor: str | None
