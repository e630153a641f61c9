"""Rotation, modelled on AWS Secrets Manager's create / test / promote.

1. *create* (its own transaction): the new secret is sealed as a ``pending`` version with the
   next version number. The primary key and a partial unique index (one pending version per
   credential) make concurrent rotations collide here: exactly one proceeds, the others get 409.
2. *test*: live against Walmart, holding no database transaction.
3. *promote* (one transaction): on success the pending version becomes ``current``, the old
   current becomes ``previous``, previous versions beyond the retention count are destroyed,
   and the credential row moves to the new version; on failure the pending version becomes
   ``failed`` (its key material removed) and the current one is untouched.

A process killed between 1 and 3 leaves a pending version; once older than the abandonment
bound, the next rotation marks it failed (audited) instead of refusing forever.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.config import Settings
from app.credentials.models import Credential
from app.credentials.promotion import promote, record_failure
from app.credentials.repository import CredentialRepository
from app.credentials.rows import sealed_version
from app.credentials.schemas import OAuthAuth, SignatureAuth
from app.credentials.secrets import PreparedSecret, prepare_secret
from app.credentials.service import NewCredentialTester, get_credential
from app.crypto import Envelope
from app.db import transaction, utcnow
from app.errors import Conflict, CredentialTestFailed, InvalidRequest


class _RotationInProgress(Exception):
    """Another rotation holds a pending version (seen before the database would refuse)."""


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    retention: int  # previous versions that keep their key material
    abandon_after: timedelta  # a pending version older than this was left by a dead process


def rotation_policy(settings: Settings) -> RotationPolicy:
    return RotationPolicy(
        retention=settings.version_retention,
        # A live test ends within the Walmart budget; a pending version far older than that
        # was left by a process that died mid-rotation.
        abandon_after=timedelta(seconds=settings.walmart_timeout_seconds * 3 + 60),
    )


async def rotate_credential(
    sessionmaker: async_sessionmaker[AsyncSession],
    envelope: Envelope,
    tester: NewCredentialTester,
    *,
    caller: Caller,
    credential_id: uuid.UUID,
    auth: OAuthAuth | SignatureAuth,
    test: bool,
    policy: RotationPolicy,
) -> Credential:
    """Create, test and promote a new version; the credential as it stands afterwards."""
    pending, prepared, credential = await _create_pending(
        sessionmaker, envelope, caller=caller, credential_id=credential_id, auth=auth, policy=policy
    )
    result = None
    if test:
        result, _ = await tester.check_new(
            prepared, market=credential.market, environment=credential.environment
        )
    if result is not None and not result.ok:
        async with transaction(sessionmaker) as session:
            await record_failure(session, caller, credential, pending, result)
        raise CredentialTestFailed(
            f"Walmart did not accept the new credentials ({result.outcome}); version {pending} "
            "is recorded as failed and the current version is unchanged.",
            details=result.as_json() | {"version": pending},
        )
    async with transaction(sessionmaker) as session:
        return await promote(
            session, caller, credential_id, pending, prepared, result, policy.retention
        )


async def _create_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    envelope: Envelope,
    *,
    caller: Caller,
    credential_id: uuid.UUID,
    auth: OAuthAuth | SignatureAuth,
    policy: RotationPolicy,
) -> tuple[int, PreparedSecret, Credential]:
    try:
        async with transaction(sessionmaker) as session:
            credential = await get_credential(session, caller=caller, credential_id=credential_id)
            if auth.kind != credential.kind:
                raise InvalidRequest(
                    f"This is a {credential.kind} credential; rotate it with auth.kind = "
                    f'"{credential.kind}" (to switch kinds, delete it and register anew).',
                    details={"field": "auth.kind", "expected": credential.kind},
                )
            prepared = await prepare_secret(
                auth, market=credential.market, environment=credential.environment
            )
            repo = CredentialRepository(session)
            await _abandon_stale_pending(session, credential, policy)
            number = await _next_version(repo, credential.id)
            await repo.add_version(
                await sealed_version(
                    envelope, credential, number, prepared, caller, state="pending"
                )
            )
            record(
                session,
                action="credential.rotation_started",
                caller=caller,
                account_id=credential.account_id,
                credential_id=credential.id,
                version=number,
                details={"fingerprint": prepared.fingerprint},
            )
    except (IntegrityError, _RotationInProgress):
        await _record_conflict(sessionmaker, caller, credential_id)
        raise _in_progress(credential_id) from None
    return number, prepared, credential


async def _next_version(repo: CredentialRepository, credential_id: uuid.UUID) -> int:
    rows = await repo.version_states(credential_id)
    if any(state == "pending" for _, state in rows):
        raise _RotationInProgress
    return max(version for version, _ in rows) + 1


async def _abandon_stale_pending(
    session: AsyncSession, credential: Credential, policy: RotationPolicy
) -> None:
    repo = CredentialRepository(session)
    for version in await repo.pending_created_before(
        credential.id, utcnow() - policy.abandon_after
    ):
        version.state, version.sealed_secret = "failed", None
        record(
            session,
            action="credential.rotation_abandoned",
            caller=None,
            outcome="abandoned",
            account_id=credential.account_id,
            credential_id=credential.id,
            version=version.version,
        )
    await repo.flush()


async def _record_conflict(
    sessionmaker: async_sessionmaker[AsyncSession], caller: Caller, credential_id: uuid.UUID
) -> None:
    async with transaction(sessionmaker) as session:
        record(
            session,
            action="credential.rotation_refused",
            caller=caller,
            outcome="conflict",
            credential_id=credential_id,
            details={"reason": "another rotation is in progress"},
        )


def _in_progress(credential_id: uuid.UUID) -> Conflict:
    return Conflict(
        f"Another rotation of credential {credential_id} is in progress; retry when it ends.",
        details={"credential_id": str(credential_id)},
    )
