"""Wire shapes for Walmart apps and connection links. The app secret comes in, never goes out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.credentials.schemas import Secret
from app.fields import AccountId, Environment, HeaderValue, Label, Market

ConnectionStatus = Literal["pending", "connected", "failed", "expired"]

APP_EXAMPLE: dict[str, JsonValue] = {
    "label": "mPorts (production)",
    "environment": "production",
    "client_id": "3c1e9b0a-52d4-4c8e-a1f7-0d9e2b6c4a11",
    "client_secret": "APP-secret-from-the-developer-portal",
}


class WalmartAppCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [APP_EXAMPLE]})

    label: Label
    environment: Environment
    client_id: HeaderValue = Field(description="The app's Client ID from Walmart's portal.")
    client_secret: Secret = Field(min_length=1, max_length=1024)


class WalmartAppRotate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"client_secret": "APP-secret-after-regenerate"}]},
    )

    client_secret: Secret = Field(min_length=1, max_length=1024)


class WalmartAppOut(BaseModel):
    id: uuid.UUID
    label: str
    environment: Environment
    client_id: str
    redirect_uri: str = Field(
        description="Register this exact URL as the app's Auth Callback URL with Walmart."
    )
    secret_version: int
    created_at: datetime
    rotated_at: datetime | None


class WalmartAppList(BaseModel):
    items: list[WalmartAppOut]


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "acme-001",
                    "market": "US",
                    "environment": "production",
                    "label": "Acme main store",
                    "return_url": "https://app.mports.example/connections/done",
                }
            ]
        },
    )

    account_id: AccountId
    market: Market
    environment: Environment
    label: Label
    app_id: uuid.UUID | None = Field(
        default=None, description="Left out: the one app registered for the environment."
    )
    return_url: str | None = Field(
        default=None,
        max_length=2000,
        description="Where the seller's browser goes after the callback; its origin must be "
        "listed in VAULT_CONNECTION_RETURN_ORIGINS.",
    )


class ConnectionOut(BaseModel):
    id: uuid.UUID
    account_id: str
    market: Market
    environment: Environment
    label: str
    app_id: uuid.UUID
    status: ConnectionStatus
    credential_id: uuid.UUID | None
    error: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None


class ConnectionCreated(ConnectionOut):
    consent_url: str = Field(
        description="Walmart's consent page for this seller; it works once and until "
        "expires_at. Show it behind the Connect button."
    )


class ConnectionPage(BaseModel):
    items: list[ConnectionOut]
    next_cursor: str | None
