"""The one read behind a snapshot cache miss: a credential's public half, its current version's
sealed secret and its shared token's fetch time, in one statement.

With more sellers than a worker caches, nearly every header request is a miss, so this read is
the hot path at scale. Through an ORM session it cost four round trips (pool ping, BEGIN,
SELECT, ROLLBACK) and most of a worker's time in the benchmark's 100,000-credential run. On
PostgreSQL it therefore runs on a small asyncpg pool of its own: one prepared statement, one
round trip, no transaction (a single SELECT is consistent on its own). SQLite, the embedded
single-process store, keeps the session. Both run the same SQLAlchemy statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import asyncpg
from sqlalchemy import Select, bindparam, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.credentials.models import Credential, CredentialVersion
from app.db import ASYNCPG_UNAVAILABLE
from app.errors import DatabaseUnavailable
from app.walmart.models import OAuthToken


class SnapshotRow(NamedTuple):
    id: uuid.UUID
    account_id: str
    market: str
    environment: str
    kind: str
    public_id: str
    channel_type: str | None
    current_version: int
    status: str
    token_fetched_at: datetime | None
    sealed_secret: str | None

    def __repr__(self) -> str:  # ciphertext, but kept out of reprs like everything secret
        return f"SnapshotRow(id={self.id}, version={self.current_version}, status={self.status})"


RowQuery = Select[*tuple[Any, ...]]


def _statement(condition: Any) -> RowQuery:
    return (
        select(
            Credential.id,
            Credential.account_id,
            Credential.market,
            Credential.environment,
            Credential.kind,
            Credential.public_id,
            Credential.channel_type,
            Credential.current_version,
            Credential.status,
            OAuthToken.fetched_at,
            CredentialVersion.sealed_secret,
        )
        .join(
            CredentialVersion,
            (CredentialVersion.credential_id == Credential.id)
            & (CredentialVersion.version == Credential.current_version),
        )
        .outerjoin(OAuthToken, OAuthToken.credential_id == Credential.id)
        .where(condition, Credential.deleted_at.is_(None))
    )


BY_ID = _statement(Credential.id == bindparam("credential_id"))
BY_SLOT = _statement(
    (Credential.account_id == bindparam("account_id"))
    & (Credential.market == bindparam("market"))
    & (Credential.environment == bindparam("environment"))
)


class SnapshotReader(Protocol):
    async def by_id(self, credential_id: uuid.UUID) -> SnapshotRow | None: ...

    async def by_slot(
        self, account_id: str, market: str, environment: str
    ) -> SnapshotRow | None: ...

    async def aclose(self) -> None: ...


class SessionReader:
    """Any database, through the app's sessions."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def by_id(self, credential_id: uuid.UUID) -> SnapshotRow | None:
        return await self._one(BY_ID, {"credential_id": credential_id})

    async def by_slot(self, account_id: str, market: str, environment: str) -> SnapshotRow | None:
        params = {"account_id": account_id, "market": market, "environment": environment}
        return await self._one(BY_SLOT, params)

    async def _one(self, statement: RowQuery, params: dict[str, Any]) -> SnapshotRow | None:
        async with self.sessionmaker() as session:
            row = (await session.execute(statement, params)).one_or_none()
        return None if row is None else SnapshotRow(*row)

    async def aclose(self) -> None:
        return None


class AsyncpgReader:
    """PostgreSQL, on its own asyncpg pool (connections are opened when first needed)."""

    def __init__(self, pool: asyncpg.Pool, engine: AsyncEngine, *, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._by_id = _compiled(engine, BY_ID)
        self._by_slot = _compiled(engine, BY_SLOT)

    @classmethod
    async def open(
        cls, engine: AsyncEngine, *, max_connections: int, seconds: float
    ) -> AsyncpgReader:
        dsn = make_url(engine.url).set(drivername="postgresql")
        pool = await asyncpg.create_pool(
            dsn.render_as_string(hide_password=False),
            min_size=0,
            max_size=max_connections,
            timeout=seconds,
            command_timeout=seconds,
            reset=_nothing_to_reset,
        )
        return cls(pool, engine, timeout=seconds)

    def __repr__(self) -> str:
        return "AsyncpgReader()"

    async def by_id(self, credential_id: uuid.UUID) -> SnapshotRow | None:
        return await self._one(self._by_id, {"credential_id": credential_id})

    async def by_slot(self, account_id: str, market: str, environment: str) -> SnapshotRow | None:
        params = {"account_id": account_id, "market": market, "environment": environment}
        return await self._one(self._by_slot, params)

    async def _one(
        self, compiled: tuple[str, tuple[str, ...]], params: Mapping[str, object]
    ) -> SnapshotRow | None:
        sql, names = compiled
        try:
            async with self._pool.acquire(timeout=self._timeout) as connection:
                record = await connection.fetchrow(sql, *(params[n] for n in names))
        except ASYNCPG_UNAVAILABLE as exc:
            raise DatabaseUnavailable("The database did not answer; try again shortly.") from exc
        if record is None:
            return None
        # asyncpg's own UUID type: the rest of the vault keys its caches by uuid.UUID.
        return SnapshotRow(uuid.UUID(int=record[0].int), *record[1:])

    async def aclose(self) -> None:
        await self._pool.close()


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """asyncpg resets every connection handed back (a round trip: unlock advisory locks, close
    cursors, UNLISTEN, RESET ALL). These connections only ever run the two SELECTs above."""


def _compiled(engine: AsyncEngine, statement: RowQuery) -> tuple[str, tuple[str, ...]]:
    """The statement as the asyncpg dialect writes it ($1, $2…), and its parameters' names
    in that order."""
    compiled = statement.compile(dialect=engine.dialect)
    return compiled.string, tuple(compiled.positiontup or ())
