"""Wire shapes for credentials. Secrets come in as ``SecretStr`` and never go out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, SecretStr

from app.fields import AccountId, Environment, HeaderValue, Label, Market
from app.walmart.outcomes import Outcome

CredentialStatus = Literal["untested", "valid", "invalid", "disabled"]
VersionState = Literal["pending", "current", "previous", "failed", "destroyed"]

SIGNATURE_EXAMPLE: dict[str, JsonValue] = {
    "kind": "signature",
    "consumer_id": "hw30cqp3-35fi-1bi0-3312-hw9fgm30d2p4",
    "private_key": "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAKzX...",
    "channel_type": "0f3e4dd4-0514-4346-b39d-af0e00ea066d",
}
OAUTH_EXAMPLE: dict[str, JsonValue] = {
    "kind": "oauth",
    "client_id": "8d1e2f30-5a4b-4c3d-9e8f-7a6b5c4d3e2f",
    "client_secret": "AKx...secret...",
    "channel_type": None,
}


def _utf8(value: SecretStr) -> SecretStr:
    try:
        value.get_secret_value().encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (it holds a lone surrogate)") from None
    return value


Secret = Annotated[SecretStr, AfterValidator(_utf8)]


class OAuthAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [OAUTH_EXAMPLE]})

    kind: Literal["oauth"]
    client_id: HeaderValue
    client_secret: Annotated[Secret, Field(min_length=1, max_length=1024)]
    channel_type: HeaderValue | None = None


class SignatureAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [SIGNATURE_EXAMPLE]})

    kind: Literal["signature"]
    consumer_id: HeaderValue
    private_key: Annotated[
        Secret,
        Field(
            min_length=1,
            max_length=16384,
            description="Seller Center's Copy button output (base64 PKCS#8 DER), PEM PKCS#8 or "
            "PEM PKCS#1; RSA of 1024 bits or more.",
        ),
    ]
    channel_type: HeaderValue = Field(description="The WM_CONSUMER.CHANNEL.TYPE value.")


AuthInput = Annotated[OAuthAuth | SignatureAuth, Field(discriminator="kind")]


class CredentialCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "acme-ca",
                    "market": "CA",
                    "environment": "production",
                    "label": "Acme Canada",
                    "auth": SIGNATURE_EXAMPLE,
                },
                {
                    "account_id": "acme-001",
                    "market": "US",
                    "environment": "production",
                    "label": "Acme main store",
                    "auth": OAUTH_EXAMPLE,
                },
            ]
        },
    )

    account_id: AccountId
    market: Market
    environment: Environment
    label: Label
    auth: AuthInput


class CredentialPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"label": "Acme (paused)", "disabled": True}]},
    )

    label: Label | None = None
    channel_type: HeaderValue | None = None
    disabled: bool | None = None


class CredentialOut(BaseModel):
    id: uuid.UUID
    account_id: str
    market: Market
    environment: Environment
    label: str
    kind: Literal["oauth", "signature", "app_oauth"]
    consumer_id: str | None
    client_id: str | None
    channel_type: str | None
    version: int
    fingerprint: str
    status: CredentialStatus
    status_reason: str | None = Field(
        default=None, description="`reconnect_required` when the seller must connect again."
    )
    last_test: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None
    app_id: uuid.UUID | None = Field(default=None, description="app_oauth: mPorts' app.")
    seller_id: str | None = Field(default=None, description="app_oauth: Walmart's seller id.")
    refresh_expires_at: datetime | None = Field(
        default=None, description="app_oauth: when the sealed refresh token stops working."
    )


class CredentialPage(BaseModel):
    items: list[CredentialOut]
    next_cursor: str | None


class VersionOut(BaseModel):
    version: int
    state: VersionState
    fingerprint: str
    created_at: datetime
    created_by: uuid.UUID | None
    test: dict[str, Any] | None


class VersionList(BaseModel):
    items: list[VersionOut]


class TestResult(BaseModel):
    __test__ = False  # not a pytest test class

    ok: bool
    outcome: Outcome
    checked_at: datetime
    latency_ms: float
    walmart_status: int | None
    walmart_error_code: str | None
    message: str
    correlation_id: str | None
    details: dict[str, Any]


class RotateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"auth": SIGNATURE_EXAMPLE, "test": True}]},
    )

    auth: AuthInput
    test: bool = Field(
        default=True,
        description="Test the new secret live and promote it only if Walmart accepts it.",
    )
