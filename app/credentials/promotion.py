"""The last step of a rotation, in one transaction: promote the tested version, or record
that it failed. Previous versions beyond the retention count lose their key material."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.audit.service import record
from app.auth import Caller
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.credentials.secrets import PreparedSecret
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.walmart.live_test import LiveTestResult
from app.walmart.repository import OAuthTokenRepository
from app.webhooks.credential_events import status_changed
from app.webhooks.events import credential_data, emit


async def promote(
    session: AsyncSession,
    caller: Caller,
    credential_id: uuid.UUID,
    pending: int,
    prepared: PreparedSecret,
    result: LiveTestResult | None,
    retention: int,
) -> Credential:
    repo = CredentialRepository(session)
    credential = await repo.fresh(credential_id)
    if credential is None:
        raise NotFound(f"Credential {credential_id} was deleted during the rotation.")
    versions = await repo.versions(credential_id)
    kept_previous = 0
    for version in versions:
        if version.version == pending:
            continue
        if version.state in ("current", "previous"):
            if kept_previous < retention:
                version.state, kept_previous = "previous", kept_previous + 1
            else:
                version.state, version.sealed_secret = "destroyed", None
    await repo.flush()  # the old current stops being current before the new one starts
    new = next(v for v in versions if v.version == pending)
    new.state, new.test = "current", result.as_json() if result is not None else None
    now = utcnow()
    credential.current_version, credential.fingerprint = pending, prepared.fingerprint
    credential.public_id, credential.channel_type = prepared.public_id, prepared.channel_type
    credential.rotated_at = credential.updated_at = now
    if result is not None:
        credential.last_test = new.test
    before = credential.status
    if credential.status != "disabled":
        credential.status = "valid" if result is not None else "untested"
    await OAuthTokenRepository(session).delete(credential_id)
    try:
        await repo.flush()
    except StaleDataError:
        raise Conflict("The credential changed during the rotation; retry it.") from None
    record(
        session,
        action="credential.rotated",
        caller=caller,
        account_id=credential.account_id,
        credential_id=credential_id,
        version=pending,
        details={"tested": result is not None, "fingerprint": prepared.fingerprint},
    )
    await emit(session, "credential.rotated", credential_data(credential, version=pending))
    await status_changed(session, credential, before, reason="test_failed")
    return credential


async def record_failure(
    session: AsyncSession,
    caller: Caller,
    credential: Credential,
    pending: int,
    result: LiveTestResult,
) -> None:
    repo = CredentialRepository(session)
    version = await repo.version(credential.id, pending)
    if version is not None:
        version.state, version.sealed_secret, version.test = "failed", None, result.as_json()
        await repo.flush()
    record(
        session,
        action="credential.rotation_failed",
        caller=caller,
        outcome=result.outcome,
        account_id=credential.account_id,
        credential_id=credential.id,
        version=pending,
        details={"correlation_id": result.correlation_id},
    )
