"""SQL for API clients. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.models import ApiClient
from app.pagination import by_time_id


class ApiClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, client: ApiClient) -> ApiClient:
        self.session.add(client)
        await self.session.flush()
        return client

    async def get(self, client_id: uuid.UUID) -> ApiClient | None:
        return await self.session.get(ApiClient, client_id)

    async def by_token_hash(self, token_hash: str) -> ApiClient | None:
        result = await self.session.execute(
            select(ApiClient).where(ApiClient.token_hash == token_hash)
        )
        return result.scalar_one_or_none()

    async def live_bootstrap(self) -> ApiClient | None:
        """The live client that ``VAULT_BOOTSTRAP_TOKEN`` keys (at most one, by index)."""
        result = await self.session.execute(
            select(ApiClient).where(ApiClient.is_bootstrap, ApiClient.revoked_at.is_(None))
        )
        return result.scalar_one_or_none()

    async def page(
        self, *, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[ApiClient]:
        query = by_time_id(
            select(ApiClient), ApiClient.created_at, ApiClient.id, limit=limit, after=after
        )
        return (await self.session.execute(query)).scalars().all()

    async def live_admins(self) -> Sequence[ApiClient]:
        result = await self.session.execute(select(ApiClient).where(ApiClient.revoked_at.is_(None)))
        return [c for c in result.scalars().all() if "admin" in c.scopes]

    async def stamp_last_used(self, client_id: uuid.UUID, at: datetime) -> None:
        """A bulk UPDATE on purpose: the last-used stamp is no change any cache depends on."""
        await self.session.execute(
            update(ApiClient).where(ApiClient.id == client_id).values(last_used_at=at)
        )

    async def flush(self) -> None:
        await self.session.flush()
