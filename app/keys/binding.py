"""The associated data that binds a sealed value to its row.

``credential_id | version | account_id | market | environment | purpose``: a sealed value
copied to another credential, version or purpose fails to open.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from app.crypto import AssociatedData, Envelope

PURPOSE = {"signature": "signing_key", "oauth": "client_secret", "app_oauth": "refresh_token"}
TOKEN_PURPOSE = "access_token"  # noqa: S105  (a label in the associated data)


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
