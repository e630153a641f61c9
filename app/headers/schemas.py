"""Wire shapes for header issuance."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.fields import Environment, Market

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _method(value: str) -> str:
    upper = value.upper()
    if upper not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)} (any case)")
    return upper


# Whitespace (Unicode's too) and control characters; one regex search instead of a per-character
# Python loop, which cost more than the rest of the body's validation.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def _url(value: str) -> str:
    if _SPACE_OR_CONTROL.search(value):
        raise ValueError("must not contain whitespace or control characters")
    if not value.isascii():
        raise ValueError(
            "must be ASCII: percent-encode other characters exactly as the request will send them"
        )
    return value


Method = Annotated[str, Field(examples=["GET"]), AfterValidator(_method)]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description=(
            "The absolute URL the call goes to. It is brought to one normal form (RFC 3986) "
            "before signing; the answer's url is the one to send."
        ),
        examples=["https://marketplace.walmartapis.com/v3/ca/feeds?limit=10"],
    ),
    AfterValidator(_url),
]


Accept = Annotated[
    Literal["application/json", "application/xml"],
    Field(
        description="Issued as the Accept header; Walmart's CA endpoints mostly answer XML.",
        examples=["application/json"],
    ),
]


class HeadersRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"method": "GET", "url": "https://marketplace.walmartapis.com/v3/ca/feeds?limit=10"}
            ]
        },
    )

    method: Method
    url: Url
    accept: Accept = "application/json"


class AccountHeadersRequest(HeadersRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "market": "US",
                    "environment": "production",
                    "method": "GET",
                    "url": "https://marketplace.walmartapis.com/v3/orders?limit=100",
                }
            ]
        },
    )

    market: Market
    environment: Environment


class HeadersOut(BaseModel):
    credential_id: uuid.UUID
    version: int
    kind: Literal["oauth", "signature", "app_oauth"]
    expires_at: datetime = Field(
        description="Send the request before this instant (token expiry or signature window)."
    )
    headers: dict[str, str]
    url: str = Field(
        description="The exact URL that was signed (the request's url in normal form): send it."
    )
