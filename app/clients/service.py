"""Rules for API clients: creation, revocation, authentication, bootstrap."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.clients.models import ApiClient
from app.clients.repository import ApiClientRepository
from app.clients.scopes import Caller
from app.crypto import hash_token, new_token
from app.db import utcnow
from app.errors import NotFound, Unauthenticated
from app.pagination import PageRequest

# Recording every use would turn each read into a write; once a minute is enough to audit.
LAST_USED_RESOLUTION = timedelta(minutes=1)
BOOTSTRAP_NAME = "bootstrap"
# Issued tokens are 47 characters and a bootstrap token is operator-chosen; nothing longer
# than this is worth hashing.
MAX_TOKEN_LENGTH = 512


async def create_client(
    session: AsyncSession,
    *,
    caller: Caller | None,
    name: str,
    scopes: Sequence[str],
    account_ids: Sequence[str] | None,
) -> tuple[ApiClient, str]:
    """Create a client and return it with its token, which is never retrievable again."""
    token = new_token()
    client = ApiClient(
        name=name,
        token_hash=hash_token(token),
        scopes=sorted(set(scopes)),
        account_ids=sorted(set(account_ids)) if account_ids is not None else None,
    )
    await ApiClientRepository(session).add(client)
    await record(
        session,
        action="client.created",
        caller=caller,
        details={"new_client_id": str(client.id), "scopes": client.scopes},
    )
    return client, token


async def list_clients(session: AsyncSession, *, page: PageRequest) -> Sequence[ApiClient]:
    return await ApiClientRepository(session).page(limit=page.limit, after=page.after_time_id())


async def revoke_client(session: AsyncSession, *, caller: Caller, client_id: uuid.UUID) -> None:
    repo = ApiClientRepository(session)
    client = await repo.get(client_id)
    if client is None or client.revoked_at is not None:
        raise NotFound(f"No active API client with id {client_id}.")
    client.revoked_at = utcnow()
    await repo.flush()
    await record(
        session,
        action="client.revoked",
        caller=caller,
        details={"revoked_client_id": str(client_id)},
    )


async def authenticate(
    session: AsyncSession, *, authorization: str | None, request_id: str | None
) -> Caller:
    """The caller behind an ``Authorization: Bearer`` header, or ``Unauthenticated``."""
    token = _bearer(authorization)
    client = await ApiClientRepository(session).by_token_hash(hash_token(token))
    if client is None or client.revoked_at is not None:
        raise Unauthenticated("The bearer token is unknown or has been revoked.")
    now = utcnow()
    if client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION:
        client.last_used_at = now
        await session.flush()
    return Caller(
        client_id=client.id,
        name=client.name,
        scopes=frozenset(client.scopes),
        account_ids=frozenset(client.account_ids) if client.account_ids is not None else None,
        request_id=request_id,
    )


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("Send the API client's token as 'Authorization: Bearer <token>'.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Send the API client's token as 'Authorization: Bearer <token>'.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("The bearer token is unknown or has been revoked.")
    return token


async def ensure_bootstrap_client(session: AsyncSession, *, token: str) -> None:
    """Make the ``bootstrap`` admin client hold exactly this token (created or re-keyed)."""
    repo = ApiClientRepository(session)
    token_hash = hash_token(token)
    if await repo.by_token_hash(token_hash) is not None:
        return
    existing = await repo.by_name(BOOTSTRAP_NAME)
    if existing is not None:
        existing.token_hash = token_hash
        await repo.flush()
        await record(
            session, action="client.rekeyed", caller=None, details={"name": BOOTSTRAP_NAME}
        )
        return
    client = ApiClient(
        name=BOOTSTRAP_NAME, token_hash=token_hash, scopes=["admin"], account_ids=None
    )
    await repo.add(client)
    await record(
        session,
        action="client.created",
        caller=None,
        details={"new_client_id": str(client.id), "scopes": ["admin"], "source": "bootstrap"},
    )


async def has_live_admin(session: AsyncSession) -> bool:
    return bool(await ApiClientRepository(session).live_admins())
