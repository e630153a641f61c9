"""What the audit rows of the headers path cost PostgreSQL, with no vault around it.

Every answer leaves one ``headers.issued`` event, and the audit table's two indexes (by
credential and by account) take each at its seller's place. With 100 sellers those places stay
in memory; with 100,000 nearly every row lands on an index page of its own. This appends events
through the vault's own repository (``AuditRepository.append``, in batches as the batcher
writes them) for the 100 hot ids and for all of them, and divides PostgreSQL's CPU by the rows.
With ``read_floor`` it gives the part of the PostgreSQL target that any code keeping one audit
row per answer and each seller in the database must pay: the database's work alone.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import uuid
from dataclasses import dataclass

import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.audit.chain import PreparedEvent, prepare
from app.audit.repository import AuditRepository
from app.db import transaction, utcnow

from . import machine

# About what the batcher wrote per transaction in the uniform runs (200 to 300 events).
BATCH = 250
# 50,000 rows a side: hundreds of clock ticks of PostgreSQL CPU (see ``read_floor``).
BATCHES = 200


@dataclass(frozen=True)
class AuditFloor:
    hot_us_per_row: float  # events of the 100 hot sellers (mean of the runs before and after)
    all_us_per_row: float  # events of sellers drawn from all of them


def _events(sellers: list[tuple[uuid.UUID, str]], pick: random.Random) -> list[PreparedEvent]:
    client = uuid.uuid4()
    events = []
    for credential_id, account_id in (pick.choice(sellers) for _ in range(BATCH)):
        event = {
            "at": utcnow(),
            "action": "headers.issued",
            "outcome": "success",
            "client_id": client,
            "request_id": uuid.uuid4().hex,
            "account_id": account_id,
            "credential_id": credential_id,
            "version": 1,
            "details": {"kind": "signature", "method": "GET", "path": "/v3/ca/feeds"},
        }
        events.append(prepare(event))
    return events


async def _us_per_row(url: str, database: str, sellers: list[tuple[uuid.UUID, str]]) -> float:
    pick = random.Random(len(sellers))
    batches = [_events(sellers, pick) for _ in range(BATCHES + 1)]  # prepared before measuring
    engine = create_async_engine(url)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        before: dict[int, float] = {}
        for number, batch in enumerate(batches):
            if number == 1:  # the first one opened and warmed the connection
                before = machine.postgres_times(database)
            async with transaction(sessionmaker) as session:
                await AuditRepository(session).append(batch)
        spent = machine.spent_between(before, machine.postgres_times(database))
    finally:
        await engine.dispose()
    return spent / (BATCHES * BATCH) * 1e6


async def _sellers(url: str, ids: list[str]) -> list[tuple[uuid.UUID, str]]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
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
    return AuditFloor(statistics.mean((first, last)), scattered)


def measure(url: str, database: str, hot: list[str], every: list[str]) -> AuditFloor:
    """PostgreSQL CPU per audit row for the ``hot`` sellers and for ``every`` one (``url``:
    SQLAlchemy's asyncpg URL of the bench database, whose audit chain the rows extend)."""
    return asyncio.run(_measure(url, database, hot, every))
