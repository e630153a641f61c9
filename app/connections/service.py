"""Connection links: the consent URL a seller follows to connect mPorts' App Store app.

The ``state`` is 32 random bytes. It appears once, in the consent URL, and the vault keeps
only its SHA-256 on the link's row: that row is what it is bound to, and a state that comes
back is looked up by its hash. It works once (the callback claims the row) and until
``VAULT_CONNECTION_LINK_MINUTES`` after creation. The ``nonce`` is a fresh random value per link.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import Caller
from app.config import Settings
from app.connections.apps import redirect_uri
from app.connections.models import Connection, WalmartApp
from app.connections.repository import AppRepository, ConnectionRepository
from app.connections.schemas import ConnectionCreate
from app.crypto import hash_token, new_token
from app.db import utcnow
from app.errors import InvalidRequest, NotFound, WalmartAppRequired
from app.pagination import PageRequest

# Walmart's consent page names the seller's marketplace this way (``clientType``).
CLIENT_TYPES = {"US": "seller", "CA": "seller-ca", "MX": "seller-mx"}


# Domain separation: a state's hash can never equal a caller or link token's hash.
_STATE_CONTEXT = b"mports-vault/connection-state/v1\0"


def hash_state(state: str) -> str:
    return hash_token(state, context=_STATE_CONTEXT)


def shown_status(connection: Connection) -> str:
    """A pending link past its expiry reads as ``expired`` (nothing needs to rewrite it)."""
    if connection.status == "pending" and connection.expires_at <= utcnow():
        return "expired"
    return connection.status


async def create_connection(
    session: AsyncSession, settings: Settings, *, caller: Caller, body: ConnectionCreate
) -> tuple[Connection, str]:
    """A pending link and its consent URL (the only place the state ever appears)."""
    caller.ensure_account(body.account_id)
    client_type = CLIENT_TYPES.get(body.market)
    if client_type is None:
        raise InvalidRequest(
            f"Walmart App Store connections exist for {', '.join(CLIENT_TYPES)}; register "
            f"{body.market} credentials with POST /v1/credentials instead.",
            details={"field": "market", "allowed": sorted(CLIENT_TYPES)},
        )
    callback = redirect_uri(settings)
    if body.return_url is not None:
        _check_return_url(body.return_url, settings.return_origins())
    app = await _app_for(session, body.environment, body.app_id)
    state, nonce = new_token(prefix=""), secrets.token_hex(16)
    now = utcnow()
    connection = Connection(
        id=uuid.uuid4(),
        account_id=body.account_id,
        market=body.market,
        environment=body.environment,
        label=body.label,
        app_id=app.id,
        state_hash=hash_state(state),
        nonce=nonce,
        return_url=body.return_url,
        status="pending",
        created_by=caller.client_id,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.connection_link_minutes),
    )
    await ConnectionRepository(session).add(connection)
    record(
        session,
        action="connection.created",
        caller=caller,
        account_id=connection.account_id,
        details=_event_details(connection),
    )
    query = urlencode(
        {
            "responseType": "code",
            "clientId": app.client_id,
            "redirectUri": callback,
            "clientType": client_type,
            "nonce": nonce,
            "state": state,
        }
    )
    return connection, f"{str(settings.walmart_consent_url).rstrip('/')}?{query}"


def _event_details(connection: Connection) -> dict[str, str]:
    return {
        "connection_id": str(connection.id),
        "app_id": str(connection.app_id),
        "market": connection.market,
        "environment": connection.environment,
    }


def _check_return_url(url: str, allowed: frozenset[str]) -> None:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme not in ("https", "http") or not parts.netloc or origin not in allowed:
        raise InvalidRequest(
            "return_url must be an absolute http(s) URL whose origin is listed in "
            "VAULT_CONNECTION_RETURN_ORIGINS.",
            details={"field": "return_url", "allowed_origins": sorted(allowed)},
        )


async def _app_for(session: AsyncSession, environment: str, app_id: uuid.UUID | None) -> WalmartApp:
    repo = AppRepository(session)
    if app_id is not None:
        app = await repo.get(app_id)
        if app is None or app.environment != environment:
            raise NotFound(f"No {environment} Walmart app with id {app_id}.")
        return app
    apps = await repo.for_environment(environment)
    if len(apps) != 1:
        raise WalmartAppRequired(
            f"{'No' if not apps else 'More than one'} Walmart app is registered for "
            f"{environment}; "
            + (
                "register mPorts' App Store app first (POST /v1/walmart-apps)."
                if not apps
                else "name the one to use in app_id."
            ),
            details={"environment": environment, "apps": len(apps)},
        )
    return apps[0]


async def get_connection(
    session: AsyncSession, *, caller: Caller, connection_id: uuid.UUID
) -> Connection:
    connection = await ConnectionRepository(session).get(connection_id)
    if connection is None:
        raise NotFound(f"No connection with id {connection_id}.")
    caller.ensure_account(connection.account_id)
    return connection


async def list_connections(
    session: AsyncSession, *, caller: Caller, account_id: str | None, page: PageRequest
) -> Sequence[Connection]:
    if account_id is not None:
        caller.ensure_account(account_id)
    return await ConnectionRepository(session).page(
        account_id=account_id,
        account_ids=caller.account_ids,
        limit=page.limit,
        after=page.after_time_id(),
    )
