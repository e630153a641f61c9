"""HTTP for hand-over links (the operator's side; the seller's pages are in ``pages``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth import ReadCaller, WriteCaller
from app.db import SessionDep, utcnow
from app.deps import StateDep
from app.errors import error_responses
from app.fields import AccountId
from app.intake import service
from app.intake.models import IntakeLink
from app.intake.schemas import IntakeLinkCreate, IntakeLinkCreated, IntakeLinkOut, IntakeLinkPage
from app.pagination import PageDep, cut, time_id_cursor_of

router = APIRouter(prefix="/v1/intake-links", tags=["hand-over links"])


def link_out(link: IntakeLink) -> IntakeLinkOut:
    return IntakeLinkOut(
        id=link.id,
        account_id=link.account_id,
        market=link.market,
        environment=link.environment,
        kind=link.kind,
        label=link.label,
        credential_id=link.credential_id,
        state=link.state(utcnow()),
        failures=link.failures,
        created_at=link.created_at,
        created_by=link.created_by,
        expires_at=link.expires_at,
        used_at=link.used_at,
        revoked_at=link.revoked_at,
        result_credential_id=link.result_credential_id,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IntakeLinkCreated,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Create a one-time link at which a seller hands over their own keys",
    description="The answer's `url` holds the link's token and is shown this once; send it to "
    "the seller. The seller's form tests the keys live and registers them (or, with "
    "`credential_id`, rotates that credential) exactly like `POST /v1/credentials?test=true`. "
    "The link stops after one success, at `expires_at`, when revoked, or after 5 failed "
    "submissions.",
)
async def create_link(
    body: IntakeLinkCreate, caller: WriteCaller, session: SessionDep, state: StateDep
) -> IntakeLinkCreated:
    public_url = state.settings.public_base_url()
    link, url = await service.create_link(session, caller=caller, body=body, public_url=public_url)
    return IntakeLinkCreated(**link_out(link).model_dump(), url=url)


@router.get(
    "",
    response_model=IntakeLinkPage,
    responses=error_responses(401, 403, 422, 503),
    summary="List hand-over links, newest first (never their URLs)",
)
async def list_links(
    caller: ReadCaller,
    session: SessionDep,
    page: PageDep,
    account_id: Annotated[AccountId | None, Query()] = None,
) -> IntakeLinkPage:
    rows = await service.list_links(session, caller=caller, account_id=account_id, page=page)
    shown, cursor = cut(rows, page, time_id_cursor_of)
    return IntakeLinkPage(items=[link_out(link) for link in shown], next_cursor=cursor)


@router.delete(
    "/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Revoke a hand-over link that still works",
    description="409 `intake_link_not_active` when the link was already used, revoked, "
    "expired or stopped by failures (`details.state` says which).",
)
async def revoke_link(link_id: uuid.UUID, caller: WriteCaller, session: SessionDep) -> Response:
    await service.revoke_link(session, caller=caller, link_id=link_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
