"""Rules for hand-over links: create (URL shown once), list, revoke."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import Caller
from app.credentials.repository import CredentialRepository
from app.credentials.service import get_credential
from app.crypto import hash_token
from app.db import utcnow
from app.errors import (
    CredentialExists,
    CredentialMismatch,
    IntakeLinkNotActive,
    NotFound,
    PublicUrlNotSet,
    SchemeNotAvailable,
)
from app.intake.models import IntakeLink
from app.intake.repository import IntakeLinkRepository
from app.intake.schemas import IntakeLinkCreate
from app.intake.tokens import new_link_token
from app.pagination import PageRequest
from app.walmart.markets import MARKETS

INTAKE_PATH = "/intake/"


async def create_link(
    session: AsyncSession, *, caller: Caller, body: IntakeLinkCreate, public_url: str | None
) -> tuple[IntakeLink, str]:
    """A new link and its URL (which holds the token and is never shown again)."""
    caller.ensure_account(body.account_id)
    if public_url is None:
        raise PublicUrlNotSet(
            "Set VAULT_PUBLIC_URL to the address sellers' browsers reach the vault at; "
            "hand-over links point there.",
            details={"setting": "VAULT_PUBLIC_URL"},
        )
    signing = MARKETS[body.market].signature_environments
    if body.kind == "signature" and body.environment not in signing:
        where = f"{body.market} {body.environment}" if signing else body.market
        raise SchemeNotAvailable(
            f"Walmart's {where} marketplace does not accept Consumer ID + Private Key "
            'signatures; ask the seller for OAuth keys instead (kind = "oauth").',
            details={"market": body.market, "environment": body.environment, "use_kind": "oauth"},
        )
    if body.credential_id is not None:
        await _ensure_rotatable(session, caller, body, body.credential_id)
    else:
        await _ensure_slot_free(session, body)
    token = new_link_token()
    now = utcnow()
    link = IntakeLink(
        id=uuid.uuid4(),
        token_hash=hash_token(token),
        account_id=body.account_id,
        market=body.market,
        environment=body.environment,
        kind=body.kind,
        label=body.label,
        credential_id=body.credential_id,
        created_at=now,
        created_by=caller.client_id,
        expires_at=now + timedelta(hours=body.expires_in_hours),
        failures=0,
    )
    await IntakeLinkRepository(session).add(link)
    record(
        session,
        action="intake_link.created",
        caller=caller,
        account_id=link.account_id,
        credential_id=link.credential_id,
        details={
            "link_id": str(link.id),
            "kind": link.kind,
            "market": link.market,
            "environment": link.environment,
            "expires_at": link.expires_at.isoformat(),
            "purpose": "rotate" if link.credential_id else "register",
        },
    )
    return link, f"{public_url}{INTAKE_PATH}{token}"


async def _ensure_rotatable(
    session: AsyncSession, caller: Caller, body: IntakeLinkCreate, credential_id: uuid.UUID
) -> None:
    credential = await get_credential(session, caller=caller, credential_id=credential_id)
    expected = {
        "account_id": credential.account_id,
        "market": credential.market,
        "environment": credential.environment,
        "kind": credential.kind,
    }
    given = body.model_dump(include=set(expected))
    differ = sorted(name for name, value in expected.items() if given[name] != value)
    if differ:
        raise CredentialMismatch(
            f"Credential {credential.id} is not the one this link describes: its "
            f"{', '.join(differ)} differ. Give the credential's own values.",
            details={"fields": differ, "expected": {name: expected[name] for name in differ}},
        )


async def _ensure_slot_free(session: AsyncSession, body: IntakeLinkCreate) -> None:
    existing = await CredentialRepository(session).live_for(
        body.account_id, body.market, body.environment
    )
    if existing is not None:
        raise CredentialExists(
            f"Account {body.account_id} already has a {body.market} {body.environment} "
            f"credential ({existing.id}); to have the seller replace its keys, create the link "
            "with its credential_id.",
            details={"credential_id": str(existing.id)},
        )


async def list_links(
    session: AsyncSession, *, caller: Caller, account_id: str | None, page: PageRequest
) -> Sequence[IntakeLink]:
    if account_id is not None:
        caller.ensure_account(account_id)
    return await IntakeLinkRepository(session).page(
        account_id=account_id,
        account_ids=caller.account_ids,
        limit=page.limit,
        after=page.after_time_id(),
    )


async def revoke_link(session: AsyncSession, *, caller: Caller, link_id: uuid.UUID) -> IntakeLink:
    """Stop a link that still works; a link that already stopped is a conflict naming why."""
    repo = IntakeLinkRepository(session)
    link = await repo.get(link_id)
    if link is None:
        raise NotFound(f"No hand-over link with id {link_id}.")
    caller.ensure_account(link.account_id)
    state = link.state(utcnow())
    if state != "active":
        raise IntakeLinkNotActive(
            f"Hand-over link {link_id} no longer works (it is {state}); there is nothing to "
            "revoke.",
            details={"state": state},
        )
    link.revoked_at = utcnow()
    await repo.flush()
    record(
        session,
        action="intake_link.revoked",
        caller=caller,
        account_id=link.account_id,
        credential_id=link.credential_id,
        details={"link_id": str(link.id)},
    )
    return link
