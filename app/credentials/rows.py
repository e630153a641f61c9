"""The rows a new credential and a new version are written as, and the audit event of a
registration: the API, the bulk import and rotations build them here, so all store the same.
(An App Store connection seals its tokens for its own purpose: ``app.connections.storing``.)"""

from __future__ import annotations

import uuid
from typing import Any

from app.auth import Caller
from app.credentials.models import Credential, CredentialVersion
from app.credentials.schemas import CredentialCreate
from app.credentials.secrets import PreparedSecret
from app.crypto import Envelope
from app.db import utcnow
from app.keys.binding import seal_secret
from app.walmart.live_test import LiveTestResult


def new_credential(
    body: CredentialCreate, prepared: PreparedSecret, test: LiveTestResult | None
) -> Credential:
    """The row of a new credential at version 1 (API and import alike)."""
    now = utcnow()
    return Credential(
        id=uuid.uuid4(),
        account_id=body.account_id,
        market=body.market,
        environment=body.environment,
        label=body.label,
        kind=prepared.kind,
        public_id=prepared.public_id,
        channel_type=prepared.channel_type,
        current_version=1,
        fingerprint=prepared.fingerprint,
        status="valid" if test else "untested",
        last_test=test.as_json() if test is not None else None,
        created_at=now,
        updated_at=now,
    )


def created_event(credential: Credential, caller: Caller, **extra: str) -> dict[str, Any]:
    """``record``'s arguments for a new credential; ``extra`` joins its details."""
    return {
        "action": "credential.created",
        "caller": caller,
        "account_id": credential.account_id,
        "credential_id": credential.id,
        "version": 1,
        "details": {
            "kind": credential.kind,
            "market": credential.market,
            "environment": credential.environment,
            "fingerprint": credential.fingerprint,
            **extra,
        },
    }


async def sealed_version(
    envelope: Envelope,
    credential: Credential,
    number: int,
    prepared: PreparedSecret,
    caller: Caller,
    *,
    state: str,
) -> CredentialVersion:
    return CredentialVersion(
        credential_id=credential.id,
        version=number,
        state=state,
        sealed_secret=await seal_secret(envelope, credential, number, prepared.plaintext),
        fingerprint=prepared.fingerprint,
        created_at=utcnow(),
        created_by=caller.client_id,
    )
