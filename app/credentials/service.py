"""Rules for credentials: register, read, edit, delete (the rows a registration writes are
built by ``app.credentials.rows``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.audit.service import record
from app.auth import Caller
from app.credentials.models import Credential, CredentialVersion
from app.credentials.repository import CredentialFilter, CredentialRepository
from app.credentials.rows import created_event, new_credential, sealed_version
from app.credentials.schemas import CredentialCreate, CredentialPatch
from app.credentials.secrets import PreparedSecret, prepare_secret
from app.crypto import Envelope
from app.db import utcnow
from app.errors import (
    Conflict,
    CredentialExists,
    CredentialTestFailed,
    InvalidRequest,
    NotFound,
)
from app.pagination import PageRequest
from app.walmart.client import TokenGrant
from app.walmart.live_test import LiveTestResult
from app.walmart.markets import channel_type_required
from app.webhooks.events import credential_data, emit


class NewCredentialTester(Protocol):
    async def check_new(
        self, prepared: PreparedSecret, *, market: str, environment: str
    ) -> tuple[LiveTestResult, TokenGrant | None]: ...

    async def keep_token(
        self, session: AsyncSession, credential: Credential, grant: TokenGrant
    ) -> None: ...


async def create_credential(
    session: AsyncSession,
    envelope: Envelope,
    *,
    caller: Caller,
    body: CredentialCreate,
    tester: NewCredentialTester | None = None,
) -> Credential:
    """Register a credential at version 1; nothing is stored if anything is invalid, or if
    a requested live test fails (422 ``credential_test_failed`` with the result)."""
    caller.ensure_account(body.account_id)
    repo = CredentialRepository(session)
    # Before the key is checked: a retry against a taken slot costs no CPU.
    await _ensure_slot_free(repo, body.account_id, body.market, body.environment)
    prepared = await prepare_secret(body.auth, market=body.market, environment=body.environment)
    test, grant = None, None
    if tester is not None:
        test, grant = await tester.check_new(
            prepared, market=body.market, environment=body.environment
        )
        if not test.ok:
            raise CredentialTestFailed(
                f"Walmart did not accept these credentials ({test.outcome}); nothing was stored.",
                details=test.as_json(),
            )
    credential = new_credential(body, prepared, test)
    version = await sealed_version(envelope, credential, 1, prepared, caller, state="current")
    version.test = credential.last_test
    try:
        await repo.add(credential, version)
    except IntegrityError:
        raise _slot_taken(body.account_id, body.market, body.environment) from None
    if tester is not None and grant is not None:
        # The test's token is as good as any: the first headers call needs no token call.
        await tester.keep_token(session, credential, grant)
    record(session, **created_event(credential, caller))
    return credential


async def _ensure_slot_free(
    repo: CredentialRepository, account_id: str, market: str, environment: str
) -> None:
    if await repo.live_for(account_id, market, environment) is not None:
        raise _slot_taken(account_id, market, environment)


def _slot_taken(account_id: str, market: str, environment: str) -> CredentialExists:
    return CredentialExists(
        f"Account {account_id} already has a {market} {environment} credential; rotate it "
        "instead of registering a second one.",
        details={"account_id": account_id, "market": market, "environment": environment},
    )


async def get_credential(
    session: AsyncSession, *, caller: Caller, credential_id: uuid.UUID
) -> Credential:
    credential = await CredentialRepository(session).get_live(credential_id)
    if credential is None:
        raise NotFound(f"No credential with id {credential_id}.")
    caller.ensure_account(credential.account_id)
    return credential


async def list_credentials(
    session: AsyncSession, *, caller: Caller, where: CredentialFilter, page: PageRequest
) -> Sequence[Credential]:
    if where.account_id is not None:
        caller.ensure_account(where.account_id)
    scoped = CredentialFilter(
        account_id=where.account_id,
        market=where.market,
        environment=where.environment,
        status=where.status,
        refresh_expires_before=where.refresh_expires_before,
        account_ids=caller.account_ids,
    )
    return await CredentialRepository(session).page(
        scoped, limit=page.limit, after=page.after_time_id()
    )


async def update_credential(
    session: AsyncSession, *, caller: Caller, credential_id: uuid.UUID, patch: CredentialPatch
) -> Credential:
    credential = await get_credential(session, caller=caller, credential_id=credential_id)
    changed = patch.model_dump(exclude_unset=True)
    if (
        "channel_type" in changed
        and changed["channel_type"] is None
        and channel_type_required(credential.market, credential.kind)
    ):
        raise InvalidRequest(
            f"A {credential.market} {credential.kind} credential needs a channel_type "
            "(WM_CONSUMER.CHANNEL.TYPE): Walmart requires it on these calls.",
            details={"field": "channel_type"},
        )
    if "label" in changed and patch.label is None:
        raise InvalidRequest("label cannot be null.", details={"field": "label"})
    if patch.label is not None:
        credential.label = patch.label
    if "channel_type" in changed:
        credential.channel_type = patch.channel_type
    before = credential.status
    if patch.disabled is not None:
        credential.status = "disabled" if patch.disabled else _status_from_last_test(credential)
    credential.updated_at = utcnow()
    try:
        await CredentialRepository(session).flush()
    except StaleDataError:
        raise Conflict("The credential changed at the same time; retry the edit.") from None
    record(
        session,
        action="credential.updated",
        caller=caller,
        account_id=credential.account_id,
        credential_id=credential.id,
        version=credential.current_version,
        details={"fields": sorted(changed), "status": credential.status},
    )
    if credential.status == "disabled" and before != "disabled":
        await emit(session, "credential.disabled", credential_data(credential))
    return credential


def _status_from_last_test(credential: Credential) -> str:
    if not credential.last_test:
        return "untested"
    return "valid" if credential.last_test.get("ok") else "invalid"


async def delete_credential(
    session: AsyncSession, *, caller: Caller, credential_id: uuid.UUID
) -> None:
    """Destroy every version's key material and keep a tombstone for the audit trail."""
    credential = await get_credential(session, caller=caller, credential_id=credential_id)
    repo = CredentialRepository(session)
    credential.deleted_at = utcnow()
    credential.updated_at = credential.deleted_at
    try:
        await repo.flush()
    except StaleDataError:
        raise Conflict("The credential changed at the same time; retry the delete.") from None
    await repo.destroy_versions(credential.id)
    record(
        session,
        action="credential.deleted",
        caller=caller,
        account_id=credential.account_id,
        credential_id=credential.id,
        version=credential.current_version,
    )
    await emit(session, "credential.deleted", credential_data(credential, status="deleted"))


async def list_versions(
    session: AsyncSession, *, caller: Caller, credential_id: uuid.UUID
) -> Sequence[CredentialVersion]:
    credential = await get_credential(session, caller=caller, credential_id=credential_id)
    return await CredentialRepository(session).versions(credential.id)
