"""HTTP for reading the audit trail, newest first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from app.audit.repository import AuditFilter, AuditRepository
from app.audit.schemas import AuditEventOut, AuditPage
from app.auth import AuditCaller
from app.db import SessionDep
from app.errors import InvalidRequest, error_responses
from app.fields import AccountId
from app.pagination import PageDep, cut, int_cursor

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "",
    response_model=AuditPage,
    responses=error_responses(401, 403, 422, 503),
    summary="Read the audit trail, newest first",
)
async def list_events(
    caller: AuditCaller,
    session: SessionDep,
    page: PageDep,
    credential_id: Annotated[uuid.UUID | None, Query()] = None,
    account_id: Annotated[AccountId | None, Query()] = None,
    client_id: Annotated[uuid.UUID | None, Query()] = None,
    action: Annotated[
        str | None, Query(pattern=r"^[a-z_.]{1,64}$", examples=["credential.rotated"])
    ] = None,
    since: Annotated[
        AwareDatetime | None,
        Query(description="Events at or after this instant (with a time zone)."),
    ] = None,
) -> AuditPage:
    if account_id is not None:
        caller.ensure_account(account_id)
    if since is not None:
        since = _utc(since)
    where = AuditFilter(
        credential_id=credential_id,
        account_id=account_id,
        client_id=client_id,
        action=action,
        since=since,
        account_ids=caller.account_ids,
    )
    rows = await AuditRepository(session).page(where, limit=page.limit, before_id=page.after_int())
    shown, cursor = cut(rows, page, lambda event: int_cursor(event.id))
    return AuditPage(
        items=[AuditEventOut.model_validate(e, from_attributes=True) for e in shown],
        next_cursor=cursor,
    )


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(
            "since is out of range once converted to UTC.", details={"field": "since"}
        ) from None
