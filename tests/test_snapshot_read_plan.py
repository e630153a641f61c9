"""Batched snapshot reads look each id up by primary key, whatever PostgreSQL's statistics say.

Right after a bulk load (or on a server whose autovacuum has not analysed the table yet) the
planner has no statistics. As a plain join, the batched read then scanned every live
credential through the live-slot index for each batch; this checks the plan, not the time.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.credentials.repository.snapshots import BY_IDS
from tests.conftest import _postgres_database

pytestmark = [pytest.mark.postgres]

LIVE_SLOT_INDEX = "uq_credentials_live_account_market_environment"

BULK_LOAD = """
ALTER TABLE credentials SET (autovacuum_enabled = off);
ALTER TABLE credential_versions SET (autovacuum_enabled = off);
INSERT INTO credentials (id, account_id, market, environment, label, kind, public_id,
                         channel_type, current_version, fingerprint, status, created_at,
                         updated_at, row_version)
SELECT gen_random_uuid(), 'acct-' || n, 'CA', 'production', 'label', 'signature',
       'consumer-' || n, 'channel', 1, repeat('a', 64), 'active', now(), now(), 1
FROM generate_series(1, 12000) AS n;
INSERT INTO credential_versions (credential_id, version, state, sealed_secret, fingerprint,
                                 created_at)
SELECT id, 1, 'current', repeat('x', 1400), repeat('a', 64), now() FROM credentials;
"""


def _indexes(node: dict[str, Any]) -> set[str]:
    found = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        found |= _indexes(child)
    return found


async def _plan(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(BULK_LOAD)
        never_analysed = "SELECT reltuples FROM pg_class WHERE relname = 'credentials'"
        assert await connection.fetchval(never_analysed) == -1
        ids = await connection.fetchval(
            "SELECT array_agg(id) FROM (SELECT id FROM credentials LIMIT 3) AS few"
        )
        sql = BY_IDS.compile(dialect=create_async_engine(url).dialect).string  # as the reader's
        await connection.execute(f"PREPARE by_ids(uuid[]) AS {sql}")
        await connection.execute("SET plan_cache_mode = force_generic_plan")  # as when reused
        wanted = "{" + ",".join(str(i) for i in ids) + "}"  # EXPLAIN takes no parameters
        text = await connection.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE by_ids('{wanted}')")
    finally:
        await connection.close()
    plan: dict[str, Any] = json.loads(text)[0]["Plan"]
    return plan


def test_batched_reads_use_the_primary_key_without_statistics() -> None:
    database = _postgres_database()
    url = next(database)
    try:
        indexes = _indexes(asyncio.run(_plan(url)))
    finally:
        next(database, None)  # drops the database
    assert "pk_credentials" in indexes
    assert LIVE_SLOT_INDEX not in indexes
