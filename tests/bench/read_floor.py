"""What reading sellers from PostgreSQL costs PostgreSQL, with no vault around it.

At 100,000 credentials nearly every uniform answer is a seller the worker has not seen yet, so
its snapshot must be read from the database. This runs the vault's own read (the reader's
``BY_IDS`` statement, planned as the reader plans it) from a bare asyncpg pool with random
ids, and divides PostgreSQL's CPU time by the sellers read, for one id per statement (every
answer alone), for as many as the vault's own uniform runs put in one, and for 32. Beside the
vault's own figure, it shows how much of PostgreSQL's cost per answer is the read itself,
which any code that keeps each seller in the database must pay.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from app.credentials.repository.snapshots import BY_IDS
from app.headers.reader import SESSION_SETTINGS, compiled_for

from . import machine, services

CONCURRENCY = 16
READS = 20_000
# PostgreSQL's CPU is read from /proc in clock ticks (10 ms): a run must cost hundreds of them,
# or a figure is mostly rounding (6,000 reads at 32 per statement once read "0 us").
MIN_STATEMENTS = 4_000


@dataclass(frozen=True)
class Floor:
    batch: int
    postgres_us_per_read: float


async def _measure(sql: str, dsn: str, database: str, ids: list[uuid.UUID], batch: int) -> Floor:
    pick = random.Random(batch)
    pool = await asyncpg.create_pool(
        dsn, min_size=CONCURRENCY, max_size=CONCURRENCY, server_settings=SESSION_SETTINGS
    )
    try:
        statements = max(READS // batch, MIN_STATEMENTS)
        per_task = statements // CONCURRENCY

        async def reader() -> None:
            async with pool.acquire() as connection:
                for _ in range(per_task):
                    await connection.fetch(sql, pick.sample(ids, batch))

        await asyncio.gather(*(reader() for _ in range(CONCURRENCY)))  # connections warmed
        before = machine.postgres_times(database)
        await asyncio.gather(*(reader() for _ in range(CONCURRENCY)))
        spent = machine.spent_between(before, machine.postgres_times(database))
    finally:
        await pool.close()
    return Floor(batch, spent / (per_task * CONCURRENCY * batch) * 1e6)


def measure(url: str, database: str, ids: list[str], batches: tuple[int, ...]) -> list[Floor]:
    """PostgreSQL CPU per seller read, for each batch size (``url``: SQLAlchemy's asyncpg URL)."""
    dsn = services.asyncpg_dsn(url)
    sql, _ = compiled_for(create_async_engine(url), BY_IDS)  # as the reader writes it
    wanted = [uuid.UUID(i) for i in ids]
    return [asyncio.run(_measure(sql, dsn, database, wanted, batch)) for batch in batches]
