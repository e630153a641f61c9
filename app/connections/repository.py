"""SQL for Walmart apps and connection links. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection, WalmartApp
from app.credentials.models import Credential
from app.keys.repository import not_on
from app.pagination import by_time_id, for_accounts


class AppRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, app: WalmartApp) -> None:
        self.session.add(app)
        await self.session.flush()

    async def get(self, app_id: uuid.UUID) -> WalmartApp | None:
        return await self.session.get(WalmartApp, app_id)

    async def for_environment(self, environment: str) -> Sequence[WalmartApp]:
        query = select(WalmartApp).where(WalmartApp.environment == environment)
        return (await self.session.execute(query.limit(2))).scalars().all()

    async def by_client_id(self, environment: str, client_id: str) -> WalmartApp | None:
        query = select(WalmartApp).where(
            WalmartApp.environment == environment, WalmartApp.client_id == client_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def all(self) -> Sequence[WalmartApp]:
        query = select(WalmartApp).order_by(WalmartApp.created_at.desc(), WalmartApp.id)
        return (await self.session.execute(query)).scalars().all()

    async def live_credentials_using(self, app_id: uuid.UUID) -> int:
        query = select(func.count()).where(
            Credential.app_id == app_id, Credential.deleted_at.is_(None)
        )
        return (await self.session.execute(query)).scalar_one()

    async def delete(self, app: WalmartApp) -> None:
        await self.session.delete(app)
        await self.session.flush()

    async def secrets_not_on(self, prefix: str, limit: int) -> Sequence[WalmartApp]:
        """Apps whose sealed secret is not on the KEK ``prefix`` names, locked for a rewrap
        batch (another replica's batch skips them)."""
        query = (
            select(WalmartApp)
            .where(not_on(WalmartApp.sealed_secret, prefix))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(query)).scalars().all()


class ConnectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, connection: Connection) -> None:
        self.session.add(connection)
        await self.session.flush()

    async def get(self, connection_id: uuid.UUID) -> Connection | None:
        return await self.session.get(Connection, connection_id, populate_existing=True)

    async def by_state_hash(self, state_hash: str) -> Connection | None:
        query = select(Connection).where(Connection.state_hash == state_hash)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def claim(self, connection_id: uuid.UUID, *, now: datetime) -> bool:
        """Mark a pending, unexpired link used; false if another callback took it first."""
        result = await self.session.execute(
            update(Connection)
            .where(
                Connection.id == connection_id,
                Connection.used_at.is_(None),
                Connection.status == "pending",
                Connection.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def page(
        self,
        *,
        account_id: str | None,
        account_ids: frozenset[str] | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> Sequence[Connection]:
        query = for_accounts(
            select(Connection),
            Connection.account_id,
            account_id=account_id,
            account_ids=account_ids,
        )
        query = by_time_id(query, Connection.created_at, Connection.id, limit=limit, after=after)
        return (await self.session.execute(query)).scalars().all()

    async def flush(self) -> None:
        await self.session.flush()
