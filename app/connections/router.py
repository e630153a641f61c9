"""HTTP for Walmart apps (admin) and connection links (credentials scopes)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth import ClientAdminCaller, ReadCaller, WriteCaller
from app.config import Settings
from app.connections import apps, service
from app.connections.models import Connection, WalmartApp
from app.connections.schemas import (
    ConnectionCreate,
    ConnectionCreated,
    ConnectionOut,
    ConnectionPage,
    WalmartAppCreate,
    WalmartAppList,
    WalmartAppOut,
    WalmartAppRotate,
)
from app.db import SessionDep
from app.deps import StateDep
from app.errors import error_responses
from app.fields import AccountId
from app.pagination import PageDep, cut, time_id_cursor_of

apps_router = APIRouter(prefix="/v1/walmart-apps", tags=["walmart apps"])
router = APIRouter(prefix="/v1/connections", tags=["connections"])


def app_out(app: WalmartApp, settings: Settings) -> WalmartAppOut:
    return WalmartAppOut(
        id=app.id,
        label=app.label,
        environment=app.environment,
        client_id=app.client_id,
        redirect_uri=apps.redirect_uri(settings),
        secret_version=app.secret_version,
        created_at=app.created_at,
        rotated_at=app.rotated_at,
    )


def connection_out(connection: Connection) -> ConnectionOut:
    return ConnectionOut(
        id=connection.id,
        account_id=connection.account_id,
        market=connection.market,
        environment=connection.environment,
        label=connection.label,
        app_id=connection.app_id,
        status=service.shown_status(connection),
        credential_id=connection.credential_id,
        error=connection.error,
        created_at=connection.created_at,
        expires_at=connection.expires_at,
        completed_at=connection.completed_at,
    )


@apps_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WalmartAppOut,
    responses=error_responses(401, 403, 409, 422, 503),
    summary="Register mPorts' App Store app for an environment (the secret is sealed)",
    description="The answer's `redirect_uri` is the Auth Callback URL to register with Walmart; "
    "it is derived from `VAULT_PUBLIC_URL`.",
)
async def create_app(
    body: WalmartAppCreate, caller: ClientAdminCaller, session: SessionDep, state: StateDep
) -> WalmartAppOut:
    app = await apps.create_app(session, state.envelope, state.settings, caller=caller, body=body)
    return app_out(app, state.settings)


@apps_router.get(
    "",
    response_model=WalmartAppList,
    responses=error_responses(401, 403, 422, 503),
    summary="List the registered apps (never their secrets)",
)
async def list_apps(
    caller: ClientAdminCaller, session: SessionDep, state: StateDep
) -> WalmartAppList:
    return WalmartAppList(items=[app_out(a, state.settings) for a in await apps.list_apps(session)])


@apps_router.post(
    "/{app_id}/rotate",
    response_model=WalmartAppOut,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Replace the app's client secret (after regenerating it in Walmart's portal)",
)
async def rotate_app(
    app_id: uuid.UUID,
    body: WalmartAppRotate,
    caller: ClientAdminCaller,
    session: SessionDep,
    state: StateDep,
) -> WalmartAppOut:
    app = await apps.rotate_app_secret(
        session,
        state.envelope,
        caller=caller,
        app_id=app_id,
        secret=body.client_secret.get_secret_value(),
    )
    return app_out(app, state.settings)


@apps_router.delete(
    "/{app_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Delete an app that no live credential uses",
)
async def delete_app(app_id: uuid.UUID, caller: ClientAdminCaller, session: SessionDep) -> Response:
    await apps.delete_app(session, caller=caller, app_id=app_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConnectionCreated,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Create a connection link: the consent URL behind a seller's Connect button",
    description="The consent URL carries a single-use `state` that expires after "
    "`VAULT_CONNECTION_LINK_MINUTES` (the vault keeps only its hash). When the seller authorizes, "
    "Walmart sends their browser to the vault's callback page, which stores the credential.",
)
async def create_connection(
    body: ConnectionCreate, caller: WriteCaller, session: SessionDep, state: StateDep
) -> ConnectionCreated:
    connection, consent_url = await service.create_connection(
        session, state.settings, caller=caller, body=body
    )
    return ConnectionCreated(**connection_out(connection).model_dump(), consent_url=consent_url)


@router.get(
    "",
    response_model=ConnectionPage,
    responses=error_responses(401, 403, 422, 503),
    summary="List connection links, newest first (never their consent URLs)",
)
async def list_connections(
    caller: ReadCaller,
    session: SessionDep,
    page: PageDep,
    account_id: Annotated[AccountId | None, Query()] = None,
) -> ConnectionPage:
    rows = await service.list_connections(session, caller=caller, account_id=account_id, page=page)
    shown, cursor = cut(rows, page, time_id_cursor_of)
    return ConnectionPage(items=[connection_out(c) for c in shown], next_cursor=cursor)


@router.get(
    "/{connection_id}",
    response_model=ConnectionOut,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Where a connection stands: pending, connected, failed or expired",
)
async def get_connection(
    connection_id: uuid.UUID, caller: ReadCaller, session: SessionDep
) -> ConnectionOut:
    connection = await service.get_connection(session, caller=caller, connection_id=connection_id)
    return connection_out(connection)
