"""The associated data that binds a sealed value to its row.

``credential_id | version | account_id | market | environment | purpose``: a sealed value
copied to another credential, version or purpose fails to open. An App Store app secret and a
webhook signing secret belong to no credential: their own row's id and secret version take
those places.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from app.crypto import AssociatedData, Envelope

PURPOSE = {"signature": "signing_key", "oauth": "client_secret", "app_oauth": "refresh_token"}
TOKEN_PURPOSE = "access_token"  # noqa: S105  (a label in the associated data)
APP_SECRET_PURPOSE = "app_client_secret"  # noqa: S105  (a label in the associated data)
WEBHOOK_SECRET_PURPOSE = "webhook_secret"  # noqa: S105  (a label in the associated data)
# A webhook endpoint belongs to no seller: these fields of its binding are fixed.
NO_SELLER = "-"


class CredentialRef(Protocol):
    """What binds a sealed value to its row: a credential row or a hot-path snapshot."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def account_id(self) -> str: ...
    @property
    def market(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def kind(self) -> str: ...


class AppRef(Protocol):
    """What binds an App Store app's secret to its row."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def secret_version(self) -> int: ...
    @property
    def environment(self) -> str: ...


def associated_data(
    credential: CredentialRef, version: int, purpose: str | None = None
) -> AssociatedData:
    """The row binding of a sealed value; ``purpose`` defaults to the credential's secret."""
    return AssociatedData(
        credential_id=str(credential.id),
        version=version,
        account_id=credential.account_id,
        market=credential.market,
        environment=credential.environment,
        purpose=purpose or PURPOSE[credential.kind],
    )


async def seal_secret(
    envelope: Envelope, credential: CredentialRef, version: int, plaintext: bytes
) -> str:
    return await envelope.seal(plaintext, aad=associated_data(credential, version))


def app_secret_binding(app_id: uuid.UUID, secret_version: int, environment: str) -> AssociatedData:
    """An App Store app's client secret, bound to the app and its secret version."""
    return AssociatedData(
        credential_id=str(app_id),
        version=secret_version,
        account_id="",
        market="",
        environment=environment,
        purpose=APP_SECRET_PURPOSE,
    )


def webhook_secret_binding(endpoint_id: uuid.UUID, version: int) -> AssociatedData:
    """A webhook endpoint's signing secret, bound to the endpoint and its secret version."""
    return AssociatedData(
        credential_id=str(endpoint_id),
        version=version,
        account_id=NO_SELLER,
        market=NO_SELLER,
        environment=NO_SELLER,
        purpose=WEBHOOK_SECRET_PURPOSE,
    )
