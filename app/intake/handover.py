"""A seller's submission at a hand-over link: claim the link, then register or rotate exactly
like ``POST /v1/credentials?test=true`` and ``POST /v1/credentials/{id}/rotate``.

The link is claimed first (a lease in the database), so one link hands over one key set even
when two browsers submit at once; the lease ends when the submission does. A submission acts
as the link's creator, limited to the link's account, so the credential's own audit events
read as they would for the API. The moment a link is used is ``outcomes.link_used``: its audit
event and its webhook are written in the transaction that stores the credential (or, for a
rotation, in the one right after the rotation commits).

``submit`` takes the form as posted and decides everything: its CSRF token, its fields, the
claim, the store, what is recorded. The page router only turns its answer (a credential, or
``Refusal``, ``LinkGone``, ``LinkBusy``) into a page.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import Caller
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.credentials.rotation import RotationPolicy, rotate_credential
from app.credentials.schemas import CredentialCreate, OAuthAuth, SignatureAuth
from app.credentials.service import NewCredentialTester, create_credential
from app.crypto import Envelope, hash_token
from app.db import transaction, utcnow
from app.errors import ServiceUnavailable, VaultError
from app.intake.form import FormErrors, parse_auth
from app.intake.models import IntakeLink, LinkState
from app.intake.outcomes import link_used, record_refusal
from app.intake.refusals import Refusal, refusal_for
from app.intake.repository import IntakeLinkRepository
from app.intake.tokens import csrf_matches, is_well_formed


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


async def open_link_briefly(handover: Handover, token: str) -> IntakeLink:
    """``open_link`` in a short transaction of its own: a submission holds no connection
    while Walmart tests the keys."""
    async with transaction(handover.sessionmaker) as session:
        return await open_link(session, token)


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
    token: str,
    form: Mapping[str, str],
    *,
    request_id: str | None,
) -> Credential:
    """Check a form posted to ``link`` (its CSRF token, its fields) and store the keys it
    holds; ``Refusal`` says in plain words why not, and is recorded before it is raised."""
    caller = link_caller(link, request_id)
    refusal: Refusal | None = None
    if not csrf_matches(form.get("csrf_token", ""), token, link.id):
        stale = "This form was out of date. Paste your keys again and send them."
        refusal = Refusal("csrf_mismatch", {"": stale}, counted=False)
    else:
        try:
            auth = parse_auth(link.kind, link.market, form)
        except FormErrors as problems:
            refusal = Refusal("incomplete_form", problems.by_field, counted=False)
    if refusal is not None:
        await record_refusal(handover.sessionmaker, link.id, refusal, caller, claimed=False)
        raise refusal
    return await _store(handover, link, auth, caller)


async def _store(
    handover: Handover, link: IntakeLink, auth: OAuthAuth | SignatureAuth, caller: Caller
) -> Credential:
    """Register or rotate through a claimed link, exactly as the API does."""
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
        await link_used(session, link.id, credential, caller)
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
        await link_used(session, link.id, credential, caller)
    return credential


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
