"""HTTP for API clients (admin only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.auth import ClientAdminCaller
from app.clients import service
from app.clients.schemas import ClientCreate, ClientCreated, ClientOut, ClientPage
from app.db import SessionDep
from app.errors import error_responses
from app.pagination import PageDep, cut, time_id_cursor_of

router = APIRouter(prefix="/v1/clients", tags=["clients"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientCreated,
    responses=error_responses(401, 403, 422, 503),
    summary="Create an API client and show its token once",
)
async def create_client(
    body: ClientCreate, caller: ClientAdminCaller, session: SessionDep
) -> ClientCreated:
    client, token = await service.create_client(
        session, caller=caller, name=body.name, scopes=body.scopes, account_ids=body.account_ids
    )
    return ClientCreated(
        **ClientOut.model_validate(client, from_attributes=True).model_dump(), token=token
    )


@router.get(
    "",
    response_model=ClientPage,
    responses=error_responses(401, 403, 422, 503),
    summary="List API clients (never their tokens)",
)
async def list_clients(caller: ClientAdminCaller, session: SessionDep, page: PageDep) -> ClientPage:
    rows = await service.list_clients(session, page=page)
    shown, cursor = cut(rows, page, time_id_cursor_of)
    items = [ClientOut.model_validate(c, from_attributes=True) for c in shown]
    return ClientPage(items=items, next_cursor=cursor)


@router.delete(
    "/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Revoke an API client; its token is refused from the next request on",
)
async def revoke_client(
    client_id: uuid.UUID, caller: ClientAdminCaller, session: SessionDep
) -> Response:
    await service.revoke_client(session, caller=caller, client_id=client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
