"""A seller's submission at a hand-over link: claim the link, then register or rotate exactly
like ``POST /v1/credentials?test=true`` and ``POST /v1/credentials/{id}/rotate``.

The link is claimed first (a lease in the database), so one link hands over one key set even
when two browsers submit at once; the lease ends when the submission does. A submission acts
as the link's creator, limited to the link's account, so the credential's own audit events
read as they would for the API. The moment a link is used is ``_link_used``: its audit event
and its webhook are written in the transaction that stores the credential (or, for a rotation,
in the one right after the rotation commits).
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.credentials.rotation import RotationPolicy, rotate_credential
from app.credentials.schemas import CredentialCreate, OAuthAuth, SignatureAuth
from app.credentials.service import NewCredentialTester, create_credential
from app.crypto import Envelope, hash_token
from app.db import transaction, utcnow
from app.errors import ServiceUnavailable, VaultError
from app.intake.models import MAX_FAILURES, IntakeLink, LinkState
from app.intake.refusals import Refusal, refusal_for
from app.intake.repository import IntakeLinkRepository
from app.intake.tokens import is_well_formed
from app.webhooks.events import credential_data, emit


class LinkGone(Exception):
    """The link does not work (``unknown`` if there is no such link)."""

    def __init__(self, state: LinkState | None) -> None:
        super().__init__(state or "unknown")
        self.state = state


class LinkBusy(Exception):
    """Another submission through this link is being checked right now."""


@dataclass(frozen=True, slots=True)
class Handover:
    """What a submission needs from the process: the service's own collaborators."""

    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope
    tester: NewCredentialTester
    policy: RotationPolicy
    contact: str


async def open_link(session: AsyncSession, token: str) -> IntakeLink:
    """The working link this token opens, or ``LinkGone`` saying why not."""
    link = (
        await IntakeLinkRepository(session).by_token_hash(hash_token(token))
        if is_well_formed(token)
        else None
    )
    if link is None:
        raise LinkGone(None)
    state = link.state(utcnow())
    if state != "active":
        raise LinkGone(state)
    return link


async def prefill(session: AsyncSession, link: IntakeLink) -> dict[str, str]:
    """The identifiers a rotation link's form starts with: Regenerate Key keeps the Consumer
    ID (and the Channel Type), so the seller only pastes the new key."""
    if link.credential_id is None:
        return {}
    credential = await CredentialRepository(session).get_live(link.credential_id)
    if credential is None:
        return {}
    public = "consumer_id" if credential.kind == "signature" else "client_id"
    return {public: credential.public_id, "channel_type": credential.channel_type or ""}


async def submit(
    handover: Handover,
    link: IntakeLink,
    auth: OAuthAuth | SignatureAuth,
    *,
    request_id: str | None,
) -> Credential:
    """Store the seller's keys through ``link``; ``Refusal`` says in plain words why not."""
    caller = link_caller(link, request_id)
    await _claim(handover, link.id)
    try:
        if link.credential_id is None:
            return await _register(handover, link, auth, caller)
        return await _rotate(handover, link, link.credential_id, auth, caller)
    except VaultError as exc:
        refusal = refusal_for(exc, kind=link.kind, contact=handover.contact)
        if refusal is None:  # not about the keys: the database or key service is away
            await _release(handover, link.id)
            raise
        await record_refusal(handover.sessionmaker, link.id, refusal, caller, claimed=True)
        raise refusal from None
    except BaseException:
        await _release(handover, link.id)
        raise


async def _claim(handover: Handover, link_id: uuid.UUID) -> None:
    now = utcnow()
    lease = handover.policy.abandon_after  # a submission cannot take longer than a rotation
    async with transaction(handover.sessionmaker) as session:
        repo = IntakeLinkRepository(session)
        if await repo.claim(link_id, now=now, until=now + lease):
            return
        link = await repo.get(link_id)
    state = link.state(utcnow()) if link is not None else None
    if state != "active":
        raise LinkGone(state)
    raise LinkBusy


async def _register(
    handover: Handover, link: IntakeLink, auth: OAuthAuth | SignatureAuth, caller: Caller
) -> Credential:
    body = CredentialCreate(
        account_id=link.account_id,
        market=link.market,
        environment=link.environment,
        label=link.label,
        auth=auth,
    )
    async with transaction(handover.sessionmaker) as session:
        credential = await create_credential(
            session, handover.envelope, caller=caller, body=body, tester=handover.tester
        )
        await _link_used(session, link.id, credential, caller)
    return credential


async def _rotate(
    handover: Handover,
    link: IntakeLink,
    credential_id: uuid.UUID,
    auth: OAuthAuth | SignatureAuth,
    caller: Caller,
) -> Credential:
    credential = await rotate_credential(
        handover.sessionmaker,
        handover.envelope,
        handover.tester,
        caller=caller,
        credential_id=credential_id,
        auth=auth,
        test=True,
        policy=handover.policy,
    )
    async with transaction(handover.sessionmaker) as session:
        await _link_used(session, link.id, credential, caller)
    return credential


async def _link_used(
    session: AsyncSession, link_id: uuid.UUID, credential: Credential, caller: Caller
) -> None:
    """The one moment a link is used: stopped, audited and announced together."""
    link = await IntakeLinkRepository(session).get(link_id)
    if link is None:  # deleted with its credential meanwhile: nothing left to mark
        return
    link.used_at = utcnow()
    link.busy_until = None
    link.result_credential_id = credential.id
    await IntakeLinkRepository(session).flush()
    await record(
        session,
        action="intake_link.used",
        caller=caller,
        account_id=credential.account_id,
        credential_id=credential.id,
        version=credential.current_version,
        details={
            "link_id": str(link_id),
            "purpose": "rotate" if link.credential_id else "register",
            "fingerprint": credential.fingerprint,
        },
    )
    data = credential_data(credential, intake_link_id=str(link_id), kind=credential.kind)
    await emit(session, "intake_link.used", data)


async def record_refusal(
    sessionmaker: async_sessionmaker[AsyncSession],
    link_id: uuid.UUID,
    refusal: Refusal,
    caller: Caller,
    *,
    claimed: bool,
) -> None:
    """Keep a refusal (and end the submission's lease if it was ``claimed``): counted ones
    bring the link nearer to its stop, and every one is audited, never with what was pasted."""
    async with transaction(sessionmaker) as session:
        repo = IntakeLinkRepository(session)
        link = await repo.get(link_id)
        if link is None:
            return
        if claimed:
            link.busy_until = None
        if refusal.counted:
            link.failures += 1
        await repo.flush()
        refusal.tries_left = max(0, MAX_FAILURES - link.failures)
        await record(
            session,
            action="intake_link.failed",
            caller=caller,
            outcome=refusal.reason,
            account_id=link.account_id,
            credential_id=link.credential_id,
            details={
                "link_id": str(link_id),
                "reason": refusal.reason,
                "counted": refusal.counted,
                "failures": link.failures,
            },
        )


async def _release(handover: Handover, link_id: uuid.UUID) -> None:
    # Best effort: a lease that cannot be ended now (the database is away) runs out by itself.
    with suppress(ServiceUnavailable):
        async with transaction(handover.sessionmaker) as session:
            link = await IntakeLinkRepository(session).get(link_id)
            if link is not None:
                link.busy_until = None


def link_caller(link: IntakeLink, request_id: str | None) -> Caller:
    return Caller(
        client_id=link.created_by,
        name=f"intake-link {link.id}",
        scopes=frozenset({"credentials:write"}),
        account_ids=frozenset({link.account_id}),
        request_id=request_id,
    )
