"""What a submission at a hand-over link leaves behind: a used link or a recorded refusal.

Both are written where the submission's own change is: a used link in the transaction that
stores the credential (or, for a rotation, the one right after it commits), so the link, its
audit event and its ``intake_link.used`` webhook never disagree.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.credentials.models import Credential
from app.db import transaction, utcnow
from app.intake.models import MAX_FAILURES
from app.intake.refusals import Refusal
from app.intake.repository import IntakeLinkRepository
from app.webhooks.events import credential_data, emit


async def link_used(
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
    record(
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
        record(
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
