"""The one read behind a snapshot cache miss: a credential's public half, its current version's
sealed secret and its shared token's fetch time, in one statement.

With more sellers than a worker caches, nearly every header request is a miss, so this read is
the hot path at scale. Through an ORM session it cost four round trips (pool ping, BEGIN,
SELECT, ROLLBACK) and most of a worker's time in the benchmark's 100,000-credential run. On
PostgreSQL it therefore runs on a small asyncpg pool of its own: one prepared statement, one
round trip, no transaction (a single SELECT is consistent on its own). Reads by id share
statements (the ids unnested, each looked up by primary key): those asked for in one turn of
the event loop leave together, and while a statement is out (``MAX_IN_FLIGHT``), later ones
wait and leave together in the next. A statement costs far more, on both sides, than one more row:
with every answer a miss, unbounded statements made batches of two or three ids
(``python -m tests.bench``, "per answer" in the scale runs). An id waits for a statement at
most the database timeout, then gets ``DatabaseUnavailable`` as if the database were down.
SQLite, the embedded single-process store, keeps the session. Both run the
same SQLAlchemy statements (``app.credentials.repository.snapshots``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.credentials.repository.snapshots import BY_ID, BY_IDS, BY_SLOT, RowQuery
from app.db import ASYNCPG_UNAVAILABLE
from app.errors import DatabaseUnavailable
from app.keys.snapshot import SnapshotRow
from app.ops.metrics import SNAPSHOT_READ_STATEMENTS, SNAPSHOT_READS

# Planned once per connection, not per read: a custom plan for each execution (PostgreSQL's
# default for the first five, and after them whenever it guesses the generic plan dearer)
# cost PostgreSQL three times the read itself (``python -m tests.bench``, "the read alone").
# The generic plan is the same primary-key lookups (tests/api/test_snapshot_reads.py).
SESSION_SETTINGS = {"plan_cache_mode": "force_generic_plan"}
# Ids per shared statement: beyond this a batch is split (a burst after a restart).
MAX_BATCH = 100
# Statements of reads by id out at once per worker (reads by slot go on their own). One: with
# every answer a miss, a second statement out split the ids between two (4.9 per statement
# against 7.9), and PostgreSQL spent about a fifth more CPU per answer with no gain in latency
# (100,000 sellers, uniform load, the two settings run in turn on one machine).
MAX_IN_FLIGHT = 1


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
        _count(reads=1)
        async with self.sessionmaker() as session:
            row = (await session.execute(statement, params)).one_or_none()
        return None if row is None else SnapshotRow(row)

    async def aclose(self) -> None:
        return None


class AsyncpgReader:
    """PostgreSQL, on its own asyncpg pool (connections are opened when first needed)."""

    def __init__(self, pool: asyncpg.Pool, engine: AsyncEngine, *, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._by_ids = compiled_for(engine, BY_IDS)
        self._by_slot = compiled_for(engine, BY_SLOT)
        self._waiting: dict[uuid.UUID, asyncio.Future[SnapshotRow | None]] = {}
        self._batches: dict[
            asyncio.Task[None], dict[uuid.UUID, asyncio.Future[SnapshotRow | None]]
        ] = {}
        self._expiry: asyncio.TimerHandle | None = None  # for the ids waiting now
        self._closed = False

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
            server_settings=SESSION_SETTINGS,
        )
        return cls(pool, engine, timeout=seconds)

    def __repr__(self) -> str:
        return "AsyncpgReader()"

    async def by_id(self, credential_id: uuid.UUID) -> SnapshotRow | None:
        waiting = self._waiting.get(credential_id)
        if waiting is None:
            if self._closed:
                raise DatabaseUnavailable()
            loop = asyncio.get_running_loop()
            if not self._waiting:
                self._expiry = loop.call_later(self._timeout, self._expire)
                if len(self._batches) < MAX_IN_FLIGHT:
                    loop.call_soon(self._send_batch)  # this turn's ids leave at its end
            waiting = self._waiting[credential_id] = loop.create_future()
        # Shielded: one caller giving up must not cancel the answer others wait for.
        return await asyncio.shield(waiting)

    async def by_slot(self, account_id: str, market: str, environment: str) -> SnapshotRow | None:
        params = {"account_id": account_id, "market": market, "environment": environment}
        _count(reads=1)
        rows = await self._rows(self._by_slot, params)
        return rows[0] if rows else None

    def _send_batch(self) -> None:
        while self._waiting and len(self._batches) < MAX_IN_FLIGHT:
            ids = list(itertools.islice(self._waiting, MAX_BATCH))
            part = {i: self._waiting.pop(i) for i in ids}
            batch = asyncio.ensure_future(self._answer(part))
            self._batches[batch] = part
            batch.add_done_callback(self._batch_done)
        if not self._waiting and self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _expire(self) -> None:
        """Ids still waiting for a free statement a whole timeout after the first of them was
        asked for: the database answers too slowly (a stall, a failover), so they get what an
        unreachable one gives, and the outage grace applies, instead of waiting unbounded."""
        self._expiry = None
        waiting, self._waiting = self._waiting, {}
        _settle(waiting, DatabaseUnavailable)

    def _batch_done(self, batch: asyncio.Task[None]) -> None:
        self._batches.pop(batch)
        if self._waiting and len(self._batches) == MAX_IN_FLIGHT - 1:
            # Ids asked for while every batch was out leave together, in the next one.
            asyncio.get_running_loop().call_soon(self._send_batch)

    async def _answer(self, waiting: dict[uuid.UUID, asyncio.Future[SnapshotRow | None]]) -> None:
        try:
            _count(reads=len(waiting))
            rows = await self._rows(self._by_ids, {"credential_ids": list(waiting)})
        except DatabaseUnavailable as exc:
            # One error each: tasks raising a shared instance would mix their tracebacks.
            message = exc.message
            _settle(waiting, lambda: DatabaseUnavailable(message))
        except Exception as exc:  # anything else reaches every waiter, as from a lone read
            error = exc
            _settle(waiting, lambda: error)
        else:
            found = {row.id: row for row in rows}
            for credential_id, future in waiting.items():
                if not future.done():
                    future.set_result(found.get(credential_id))
        finally:  # cancelled (shutdown): nobody is left waiting for ever
            for future in waiting.values():
                future.cancel()

    async def _rows(
        self, compiled: tuple[str, tuple[str, ...]], params: Mapping[str, object]
    ) -> list[SnapshotRow]:
        sql, names = compiled
        try:
            async with self._pool.acquire(timeout=self._timeout) as connection:
                records = await connection.fetch(sql, *(params[n] for n in names))
        except ASYNCPG_UNAVAILABLE as exc:
            raise DatabaseUnavailable() from exc
        # asyncpg's own UUID type: the rest of the vault keys its caches by uuid.UUID.
        return [SnapshotRow((uuid.UUID(int=r[0].int), *r[1:])) for r in records]

    async def aclose(self) -> None:
        self._closed = True
        if self._expiry is not None:
            self._expiry.cancel()
        waiting, self._waiting = self._waiting, {}  # asked for, not sent yet
        for future in waiting.values():
            future.cancel()
        for batch, part in list(self._batches.items()):
            batch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await batch
            for future in part.values():  # a batch cancelled before it began settles nothing
                future.cancel()
        await self._pool.close()


def _count(*, reads: int) -> None:
    """One statement reading ``reads`` credentials (sent: it may still fail)."""
    SNAPSHOT_READS.inc(reads)
    SNAPSHOT_READ_STATEMENTS.inc()


def _settle(
    waiting: dict[uuid.UUID, asyncio.Future[SnapshotRow | None]],
    error: Callable[[], BaseException],
) -> None:
    for future in waiting.values():
        if not future.done():
            future.set_exception(error())
            future.exception()  # marked seen: every waiter may have given up


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """asyncpg resets every connection handed back (a round trip: unlock advisory locks, close
    cursors, UNLISTEN, RESET ALL). These connections only ever run the two SELECTs above."""


def compiled_for(engine: AsyncEngine, statement: RowQuery) -> tuple[str, tuple[str, ...]]:
    """The statement as the asyncpg dialect writes it ($1, $2…), and its parameters' names
    in that order."""
    compiled = statement.compile(dialect=engine.dialect)
    return compiled.string, tuple(compiled.positiontup or ())
