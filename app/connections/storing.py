"""Storing a completed connection: the seller's refresh token becomes an ``app_oauth``
credential, or a new version of the credential the slot already has.

A new version is promoted only after the live check of its access token passed (the caller
ran it). If the slot held keys of another kind (a seller moving from Delegated Access keys to
the App Store), the credential changes kind and the old versions' key material is destroyed:
they were sealed for another purpose and can never be used again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import Caller
from app.connections.models import Connection, WalmartApp
from app.connections.rotated_tokens import REFRESH_TOKEN_LIFETIME
from app.credentials.models import Credential, CredentialVersion
from app.credentials.promotion import promote
from app.credentials.repository import CredentialRepository
from app.credentials.secrets import PreparedSecret
from app.credentials.snapshot import snapshot_of
from app.crypto import Envelope
from app.db import utcnow
from app.keys.binding import PURPOSE, associated_data
from app.keys.snapshot import CredentialSnapshot
from app.walmart.client import AppGrant, TokenGrant
from app.walmart.live_test import LiveTestResult

KIND = "app_oauth"


class TokenKeeper(Protocol):
    """Keeps an access token obtained outside the broker (the token broker does)."""

    async def store_grant(
        self, session: AsyncSession, snapshot: CredentialSnapshot, grant: TokenGrant
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredConnection:
    credential_id: uuid.UUID
    version: int
    seller_id: str


def _fingerprint(app: WalmartApp, seller_id: str, connection_id: uuid.UUID) -> str:
    # Tells connections apart without any secret in it: app, seller and the link that made it.
    digest = hashlib.sha256(b"mports-vault/app-oauth-fingerprint/v1\0")
    digest.update(f"{app.client_id}\0{seller_id}\0{connection_id}".encode())
    return digest.hexdigest()


async def store_connection(
    session: AsyncSession,
    envelope: Envelope,
    tokens: TokenKeeper,
    *,
    connection: Connection,
    app: WalmartApp,
    seller_id: str,
    grant: AppGrant,
    test: LiveTestResult,
    caller: Caller,
    retention: int,
) -> StoredConnection:
    assert grant.refresh_token is not None  # noqa: S101  (the exchange refuses answers without)
    prepared = PreparedSecret(
        kind=KIND,
        public_id=app.client_id,
        channel_type=None,
        plaintext=grant.refresh_token.encode(),
        fingerprint=_fingerprint(app, seller_id, connection.id),
    )
    lifetime = (
        timedelta(seconds=grant.refresh_expires_in)
        if grant.refresh_expires_in is not None
        else REFRESH_TOKEN_LIFETIME
    )
    repo = CredentialRepository(session)
    existing = await repo.live_for(connection.account_id, connection.market, connection.environment)
    if existing is None:
        credential = await _create(session, envelope, connection, prepared, test, caller)
    else:
        credential = await _new_version(
            session, envelope, existing, prepared, test, caller, retention
        )
    credential.app_id, credential.seller_id = app.id, seller_id
    credential.refresh_expires_at = utcnow() + lifetime
    credential.status_reason = None
    await repo.flush()
    await tokens.store_grant(session, snapshot_of(credential, None), grant.token_grant())
    return StoredConnection(credential.id, credential.current_version, seller_id)


async def _create(
    session: AsyncSession,
    envelope: Envelope,
    connection: Connection,
    prepared: PreparedSecret,
    test: LiveTestResult,
    caller: Caller,
) -> Credential:
    now = utcnow()
    credential = Credential(
        id=uuid.uuid4(),
        account_id=connection.account_id,
        market=connection.market,
        environment=connection.environment,
        label=connection.label,
        kind=KIND,
        public_id=prepared.public_id,
        channel_type=None,
        current_version=1,
        fingerprint=prepared.fingerprint,
        status="valid",
        last_test=test.as_json(),
        created_at=now,
        updated_at=now,
    )
    version = CredentialVersion(
        credential_id=credential.id,
        version=1,
        state="current",
        sealed_secret=await envelope.seal(
            prepared.plaintext, aad=associated_data(credential, 1, PURPOSE[KIND])
        ),
        fingerprint=prepared.fingerprint,
        created_at=now,
        created_by=caller.client_id,
        test=test.as_json(),
    )
    await CredentialRepository(session).add(credential, version)
    record(
        session,
        action="credential.created",
        caller=caller,
        account_id=credential.account_id,
        credential_id=credential.id,
        version=1,
        details={
            "kind": KIND,
            "market": credential.market,
            "environment": credential.environment,
            "fingerprint": prepared.fingerprint,
            "connection_id": str(connection.id),
        },
    )
    return credential


async def _new_version(
    session: AsyncSession,
    envelope: Envelope,
    existing: Credential,
    prepared: PreparedSecret,
    test: LiveTestResult,
    caller: Caller,
    retention: int,
) -> Credential:
    repo = CredentialRepository(session)
    number = max(v.version for v in await repo.versions(existing.id)) + 1
    previous_kind = existing.kind
    await repo.add_version(
        CredentialVersion(
            credential_id=existing.id,
            version=number,
            state="pending",
            sealed_secret=await envelope.seal(
                prepared.plaintext, aad=associated_data(existing, number, PURPOSE[KIND])
            ),
            fingerprint=prepared.fingerprint,
            created_at=utcnow(),
            created_by=caller.client_id,
        )
    )
    credential = await promote(session, caller, existing.id, number, prepared, test, retention)
    if previous_kind != KIND:
        credential.kind = KIND
        await repo.destroy_versions(existing.id, keep=number)
    return credential
