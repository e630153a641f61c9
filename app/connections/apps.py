"""Rules for mPorts' own Walmart App Store apps: register, list, rotate the secret, delete.

The app's client secret is sealed bound to the app's row and secret version, so a rotation
seals under a new binding and a value copied to another app fails to open.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import Caller
from app.config import Settings
from app.connections.models import WalmartApp
from app.connections.repository import AppRepository
from app.connections.schemas import WalmartAppCreate
from app.crypto import Envelope
from app.db import utcnow
from app.errors import NotFound, PublicUrlNotSet, WalmartAppExists, WalmartAppInUse
from app.keys import keystore
from app.keys.binding import app_secret_binding

CALLBACK_PATH = "/connect/walmart/callback"


def redirect_uri(settings: Settings) -> str:
    """The Auth Callback URL to register with Walmart: derived from ``VAULT_PUBLIC_URL``."""
    base = settings.public_base_url()
    if base is None:
        raise PublicUrlNotSet(
            "Set VAULT_PUBLIC_URL to the address sellers' browsers reach the vault at; the "
            "App Store callback URL is derived from it.",
            details={"setting": "VAULT_PUBLIC_URL"},
        )
    return base + CALLBACK_PATH


async def open_app_secret(envelope: Envelope, app: WalmartApp) -> str:
    return await keystore.open_app_secret(envelope, app, app.sealed_secret)


async def create_app(
    session: AsyncSession,
    envelope: Envelope,
    settings: Settings,
    *,
    caller: Caller,
    body: WalmartAppCreate,
) -> WalmartApp:
    redirect_uri(settings)  # refuse before storing anything when the callback has no address
    repo = AppRepository(session)
    if await repo.by_client_id(body.environment, body.client_id) is not None:
        raise _duplicate(body.environment, body.client_id)
    app_id = uuid.uuid4()
    app = WalmartApp(
        id=app_id,
        label=body.label,
        environment=body.environment,
        client_id=body.client_id,
        secret_version=1,
        sealed_secret=await envelope.seal(
            body.client_secret.get_secret_value().encode(),
            aad=app_secret_binding(app_id, 1, body.environment),
        ),
        created_at=utcnow(),
    )
    try:
        await repo.add(app)
    except IntegrityError:
        raise _duplicate(body.environment, body.client_id) from None
    record(
        session,
        action="walmart_app.created",
        caller=caller,
        details={"app_id": str(app.id), "environment": app.environment, "client_id": app.client_id},
    )
    return app


def _duplicate(environment: str, client_id: str) -> WalmartAppExists:
    return WalmartAppExists(
        f"An app with client id {client_id} is already registered for {environment}; rotate "
        "its secret instead.",
        details={"environment": environment, "client_id": client_id},
    )


async def list_apps(session: AsyncSession) -> Sequence[WalmartApp]:
    return await AppRepository(session).all()


async def get_app(session: AsyncSession, app_id: uuid.UUID) -> WalmartApp:
    app = await AppRepository(session).get(app_id)
    if app is None:
        raise NotFound(f"No Walmart app with id {app_id}.")
    return app


async def rotate_app_secret(
    session: AsyncSession, envelope: Envelope, *, caller: Caller, app_id: uuid.UUID, secret: str
) -> WalmartApp:
    """Seal the new secret under the next secret version; the next token call uses it."""
    app = await get_app(session, app_id)
    app.secret_version += 1
    app.sealed_secret = await envelope.seal(
        secret.encode(), aad=app_secret_binding(app.id, app.secret_version, app.environment)
    )
    app.rotated_at = utcnow()
    await AppRepository(session).add(app)
    record(
        session,
        action="walmart_app.rotated",
        caller=caller,
        details={"app_id": str(app.id), "secret_version": app.secret_version},
    )
    return app


async def delete_app(session: AsyncSession, *, caller: Caller, app_id: uuid.UUID) -> None:
    repo = AppRepository(session)
    app = await get_app(session, app_id)
    in_use = await repo.live_credentials_using(app.id)
    if in_use:
        raise WalmartAppInUse(
            f"{in_use} live credential(s) reach Walmart through this app; delete them (or let "
            "sellers reconnect through another app) before deleting it.",
            details={"app_id": str(app.id), "credentials": in_use},
        )
    await repo.delete(app)
    record(session, action="walmart_app.deleted", caller=caller, details={"app_id": str(app.id)})
