"""What the audit rows of the headers path cost PostgreSQL, with no vault around it.

Every answer leaves one ``headers.issued`` event, and the audit table's two indexes (by
credential and by account) take each row at its seller's place. With 100 sellers those places
stay in memory; with 100,000 nearly every row lands on index pages of its own. This appends
events through the vault's own repository and engine (``AuditRepository.append``, in batches
as the batcher writes them) for the 100 hot sellers, then for sellers drawn from all of them,
then for the hot ones again, and divides PostgreSQL's CPU by the rows. With ``read_floor`` it
gives the part of the uniform runs' extra PostgreSQL cost per answer that the work itself
brings, which any code that reads each seller from the database and audits every answer pays.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass

import asyncpg

from app.audit.chain import PreparedEvent, prepare
from app.audit.repository import AuditRepository
from app.db import make_engine, make_sessionmaker, transaction, utcnow

from . import machine, services

# About what the batcher wrote per transaction in the uniform runs (200 to 300 events).
BATCH = 250
# 200,000 rows a run: a hot row costs about 10 us, so a run is about 200 clock ticks of
# PostgreSQL CPU, which /proc counts in (see ``read_floor``).
BATCHES = 800
# The vault's issuing caller: the bench has one.
CLIENT_ID = uuid.uuid4()


@dataclass(frozen=True)
class AuditFloor:
    hot_us_per_row: tuple[float, float]  # the 100 hot sellers' events, before and after
    all_us_per_row: float  # events of sellers drawn from all of them

    @property
    def hot(self) -> float:
        return sum(self.hot_us_per_row) / 2


def _events(sellers: list[tuple[uuid.UUID, str]], pick: random.Random) -> list[PreparedEvent]:
    events = []
    for credential_id, account_id in (pick.choice(sellers) for _ in range(BATCH)):
        event = {
            "at": utcnow(),
            "action": "headers.issued",
            "outcome": "success",
            "client_id": CLIENT_ID,
            "request_id": uuid.uuid4().hex,
            "account_id": account_id,
            "credential_id": credential_id,
            "version": 1,
            # Marked, so no count of issued headers can take them for the vault's own (the
            # scale run counts before it measures this).
            "details": {"kind": "signature", "method": "GET", "path": "/v3/ca/feeds", "bench": 1},
        }
        events.append(prepare(event))
    return events


async def _us_per_row(url: str, database: str, sellers: list[tuple[uuid.UUID, str]]) -> float:
    # Vacuumed first: the rows of the run before would otherwise set autovacuum off in this one.
    await services.steady_state(url)
    pick = random.Random(len(sellers))
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)

    async def append() -> None:
        async with transaction(sessionmaker) as session:
            await AuditRepository(session).append(_events(sellers, pick))

    try:
        await append()  # opens and warms the connection
        before = machine.postgres_times(database)
        for _ in range(BATCHES):
            await append()
        spent = machine.spent_between(before, machine.postgres_times(database))
    finally:
        await engine.dispose()
    return spent / (BATCHES * BATCH) * 1e6


async def _sellers(url: str, ids: list[str]) -> list[tuple[uuid.UUID, str]]:
    connection = await asyncpg.connect(services.asyncpg_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT id, account_id FROM credentials WHERE id = ANY($1::uuid[])", ids
        )
    finally:
        await connection.close()
    return [(uuid.UUID(int=row["id"].int), row["account_id"]) for row in rows]


async def _measure(url: str, database: str, hot: list[str], every: list[str]) -> AuditFloor:
    hot_sellers, all_sellers = await _sellers(url, hot), await _sellers(url, every)
    # Hot on both sides of the other, as the scale rounds are: the audit table only grows.
    first = await _us_per_row(url, database, hot_sellers)
    scattered = await _us_per_row(url, database, all_sellers)
    last = await _us_per_row(url, database, hot_sellers)
    return AuditFloor((first, last), scattered)


def measure(url: str, database: str, hot: list[str], every: list[str]) -> AuditFloor:
    """PostgreSQL CPU per audit row for the ``hot`` sellers and for ``every`` one (``url``:
    SQLAlchemy's asyncpg URL of the bench's own database, whose audit chain the rows extend)."""
    return asyncio.run(_measure(url, database, hot, every))
