"""Rules for API clients: creation, revocation, authentication, bootstrap."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import Caller
from app.clients.models import ApiClient
from app.clients.repository import ApiClientRepository
from app.crypto import hash_token, new_token
from app.db import utcnow
from app.errors import NotFound
from app.pagination import PageRequest

BOOTSTRAP_NAME = "bootstrap"


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
    record(
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
    record(
        session,
        action="client.revoked",
        caller=caller,
        details={"revoked_client_id": str(client_id)},
    )


async def ensure_bootstrap_client(session: AsyncSession, *, token: str) -> None:
    """Make the ``bootstrap`` admin client hold exactly this token (created or re-keyed)."""
    repo = ApiClientRepository(session)
    token_hash = hash_token(token)
    if await repo.by_token_hash(token_hash) is not None:
        return
    # Found by the row's own mark, never by name: names are not unique, and an admin could
    # have named another client "bootstrap" to receive the operator's next token.
    existing = await repo.live_bootstrap()
    if existing is not None:
        existing.token_hash = token_hash
        await repo.flush()
        record(session, action="client.rekeyed", caller=None, details={"name": BOOTSTRAP_NAME})
        return
    client = ApiClient(
        name=BOOTSTRAP_NAME,
        token_hash=token_hash,
        scopes=["admin"],
        account_ids=None,
        is_bootstrap=True,
    )
    await repo.add(client)
    record(
        session,
        action="client.created",
        caller=None,
        details={"new_client_id": str(client.id), "scopes": ["admin"], "source": "bootstrap"},
    )


async def has_live_admin(session: AsyncSession) -> bool:
    return bool(await ApiClientRepository(session).live_admins())
