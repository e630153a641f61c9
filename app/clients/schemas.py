"""Wire shapes for API clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.auth import ALL_SCOPES, Scope
from app.fields import AccountId, Label


class ClientCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "order-sync", "scopes": ["headers:issue"], "account_ids": ["acme-001"]}
            ]
        },
    )

    name: Annotated[Label, Field(max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(ALL_SCOPES))]
    account_ids: Annotated[list[AccountId], Field(min_length=1, max_length=1000)] | None = None


class ClientOut(BaseModel):
    id: uuid.UUID
    name: str
    scopes: list[str]
    account_ids: list[str] | None
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class ClientCreated(ClientOut):
    token: str = Field(description="The bearer token; shown this once and never again.")


class ClientPage(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None
