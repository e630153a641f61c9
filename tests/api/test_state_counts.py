"""The counts behind ``/metrics`` are kept by the database's triggers: after every kind of
change (API, import, KEK rewrap, SQL by hand) they equal a fresh count of every row."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest
from sqlalchemy import Uuid, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.context import OPERATOR
from app.credentials.bulk_import import ImportLine, import_batch, parse_line
from app.credentials.models import Credential
from app.crypto import Envelope, LocalKeyring
from app.db import transaction
from app.keys.rewrap import kek_counts, rewrap_batch
from app.ops.models import StateCount
from app.sealed import sealed_tables
from app.state import AppState
from tests.api.test_metrics import value
from tests.api.walmart_setup import headers_for, oauth_credential, signature_credential
from tests.factories import keks_rotated_to, oauth_body, signature_body
from tests.walmart_sim import SimulatorControl, SimulatorServer


async def kept(session: AsyncSession) -> tuple[dict[str, int], Counter[tuple[str, str]]]:
    rows = await session.execute(select(StateCount).where(StateCount.count != 0))
    by_status, by_kek = {}, Counter[tuple[str, str]]()
    for row in rows.scalars():
        if row.kind == "credentials":
            by_status[row.label] = row.count
        else:
            provider, _, key_id = row.label.partition("$")
            by_kek[(provider, key_id)] = row.count
    return by_status, by_kek


async def recounted(session: AsyncSession) -> tuple[dict[str, int], Counter[tuple[str, str]]]:
    rows = await session.execute(
        select(Credential.status, func.count())
        .where(Credential.deleted_at.is_(None))
        .group_by(Credential.status)
    )
    return {status: count for status, count in rows}, await kek_counts(sealed_tables(session))


async def assert_counts_true(state: AppState) -> tuple[dict[str, int], Counter[tuple[str, str]]]:
    async with state.sessionmaker() as session:
        counts = await kept(session)
        assert counts == await recounted(session)
    return counts


async def lines(*bodies: dict[str, object]) -> list[ImportLine]:
    parsed = [await parse_line(n, json.dumps(b).encode()) for n, b in enumerate(bodies, start=1)]
    assert all(isinstance(p, ImportLine) for p in parsed)
    return [p for p in parsed if isinstance(p, ImportLine)]


async def test_counts_follow_every_change(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    local_keks: str,
) -> None:
    signature = await signature_credential(client, walmart_control)
    oauth = await oauth_credential(client, walmart_control)
    await headers_for(client, oauth["id"], "GET", walmart.base_url + "/v3/orders")  # a token
    extra = [
        (await client.post("/v1/credentials", json=oauth_body(account_id=f"x{n}"))).json()
        for n in range(3)
    ]
    await client.patch(f"/v1/credentials/{extra[0]['id']}", json={"disabled": True})
    await client.delete(f"/v1/credentials/{extra[1]['id']}")
    imported = await import_batch(
        vault_state.sessionmaker,
        vault_state.envelope,
        await lines(*(signature_body(account_id=f"imported-{n}") for n in range(4))),
        caller=OPERATOR,
    )
    assert imported.imported == 4
    by_status, by_kek = await assert_counts_true(vault_state)
    assert by_status == {"untested": 7, "disabled": 1}
    assert sum(by_kek.values()) == 2 + 3 + 4 + 1 - 1  # versions (one destroyed) and a token

    # Changes made by hand in SQL are counted too.
    async with transaction(vault_state.sessionmaker) as session:
        await session.execute(
            text("UPDATE credentials SET status = 'invalid' WHERE id = :id").bindparams(
                bindparam("id", uuid.UUID(signature["id"]), type_=Uuid)
            )
        )
        await session.execute(
            text("DELETE FROM credentials WHERE account_id = 'imported-0'"),
        )
    by_status, _ = await assert_counts_true(vault_state)
    assert by_status == {"invalid": 1, "untested": 5, "disabled": 1}

    # A KEK rotation moves data keys from one label to another, batch by batch.
    rotated = Envelope(LocalKeyring.parse(keks_rotated_to("test-3", local_keks)))
    async with transaction(vault_state.sessionmaker) as session:
        assert await rewrap_batch(sealed_tables(session), rotated, size=3) == 3
    _, by_kek = await assert_counts_true(vault_state)
    assert by_kek[("local", "test-3")] == 3

    vault_state.metrics.ttl = 0
    scraped = (await client.get("/metrics")).text
    assert value(scraped, "vault_credentials", status="untested") == 5
    assert value(scraped, "vault_data_keys", provider="local", key_id="test-3", active="false") == 3


async def test_a_transaction_left_open_holds_up_no_other_count(
    client: httpx.AsyncClient, vault_state: AppState
) -> None:
    """Counter rows are locked only while a transaction commits (PostgreSQL): a transaction
    that changed a status and has not committed yet must not make the next one wait."""
    url = vault_state.settings.database_url
    if not url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time by design")
    ids = []
    for market in ("MX", "CL"):
        created = await client.post("/v1/credentials", json=oauth_body(market=market))
        assert created.status_code == 201, created.text
        ids.append(uuid.UUID(created.json()["id"]))
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    change = "UPDATE credentials SET status = 'invalid' WHERE id = $1"
    try:
        held = first.transaction()
        await held.start()
        await first.execute(change, ids[0])
        async with second.transaction():  # commits at the end of the block
            await second.execute(change, ids[1], timeout=3)
        await held.commit()
    finally:
        await first.close()
        await second.close()
    by_status, _ = await assert_counts_true(vault_state)
    assert by_status["invalid"] == 2
