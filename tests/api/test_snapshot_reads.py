"""A snapshot miss is one read that brings the current sealed secret along, and a snapshot is
re-read by the staleness bound only where no change listener vouches for it (both databases)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.changes import ChangeListener
from app.config import Settings
from app.credentials.repository import CredentialRepository
from app.credentials.snapshot import snapshot_of
from app.crypto import Envelope
from app.db import make_engine, transaction
from app.errors import DatabaseUnavailable
from app.headers.reader import MAX_IN_FLIGHT, AsyncpgReader, SnapshotReader
from app.headers.snapshot import SnapshotCache
from app.keys.rewrap import rewrap_batch
from app.keys.snapshot import ROW_FIELDS, CredentialSnapshot, SnapshotRow
from app.sealed import sealed_tables
from app.state import AppState
from tests.api.walmart_setup import (
    headers_for,
    rotate_to_new_key,
    signature_credential,
    with_new_kek,
)
from tests.walmart_sim import SimulatorControl, SimulatorServer


async def test_a_miss_reads_the_current_sealed_secret_once(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    credential = await signature_credential(client, walmart_control)
    credential_id = uuid.UUID(credential["id"])
    snapshots = vault_state.issuer.snapshots
    snapshots.forget(credential_id)
    snapshot = await snapshots.get(credential_id)
    assert snapshot is not None
    assert snapshot.version == 1
    assert snapshot.sealed_secret is not None
    assert snapshot.sealed_secret.startswith("v1$")  # sealed, never the PEM
    assert "sealed_secret" not in repr(snapshot)
    by_slot = await snapshots.for_slot("acme-ca", "CA", "production")
    assert by_slot is not None
    assert by_slot.sealed_secret == snapshot.sealed_secret

    await rotate_to_new_key(client, walmart_control, credential)
    snapshots.forget(credential_id)
    fresh = await snapshots.get(credential_id)
    assert fresh is not None
    assert fresh.version == 2
    assert fresh.sealed_secret != snapshot.sealed_secret
    issued = await headers_for(client, credential["id"], "GET", walmart.base_url + "/v3/ca/feeds")
    assert issued["version"] == 2
    assert await snapshots.get(uuid.uuid4()) is None
    assert await snapshots.for_slot("nobody", "CA", "production") is None


async def test_a_credential_in_a_transaction_makes_the_snapshot_the_hot_path_reads(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    credential_id = uuid.UUID((await signature_credential(client, walmart_control))["id"])
    row = await vault_state.issuer.snapshots.reader.by_id(credential_id)
    assert row is not None
    sealed = row[ROW_FIELDS.index("sealed_secret")]
    assert sealed.startswith("v1$")
    assert sealed not in repr(row)
    read = CredentialSnapshot.from_row(row, loaded_at=0.0)
    async with transaction(vault_state.sessionmaker) as session:
        repo = CredentialRepository(session)
        credential = await repo.get_live(credential_id)
        assert credential is not None
        version = await repo.version(credential_id, credential.current_version)
        assert version is not None
        made = snapshot_of(credential, version.sealed_secret)
    # Field for field, but the shared token's fetch time, which only the read brings.
    assert [getattr(made, f) for f in ROW_FIELDS if f != "token_fetched_at"] == [
        getattr(read, f) for f in ROW_FIELDS if f != "token_fetched_at"
    ]
    assert made.token_fetched_at is None


class GatedReader:
    """The app's own reader, behind a gate the test opens and closes."""

    def __init__(self, reader: SnapshotReader) -> None:
        self.reader = reader
        self.gate = asyncio.Event()
        self.reads = 0

    async def by_id(self, credential_id: uuid.UUID) -> SnapshotRow | None:
        self.reads += 1
        await self.gate.wait()
        return await self.reader.by_id(credential_id)

    async def by_slot(self, account_id: str, market: str, environment: str) -> SnapshotRow | None:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


Gated = tuple[uuid.UUID, GatedReader, list[float], SnapshotCache, CredentialSnapshot]


@pytest.fixture
async def gated(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> AsyncIterator[Gated]:
    """A cache on a hand-moved clock over the gated reader, holding one credential read at 0,
    the gate then shut."""
    credential_id = uuid.UUID((await signature_credential(client, walmart_control))["id"])
    reader = GatedReader(vault_state.issuer.snapshots.reader)
    now = [0.0]
    cache = SnapshotCache(reader, max_staleness=2.0, max_entries=100, clock=lambda: now[0])
    reader.gate.set()
    first = await cache.get(credential_id)
    assert first is not None
    reader.gate.clear()
    yield credential_id, reader, now, cache, first
    await cache.aclose()


async def test_an_entry_in_use_is_reread_ahead_of_its_bound_without_waiting(
    gated: Gated,
) -> None:
    credential_id, reader, now, cache, first = gated
    now[0] = 0.9  # under half the bound: no read
    assert await cache.get(credential_id) is first
    assert reader.reads == 1
    now[0] = 1.5  # past half: answered at once, re-read in the background (the gate is shut)
    assert await asyncio.wait_for(cache.get(credential_id), timeout=1) is first
    assert await asyncio.wait_for(cache.get(credential_id), timeout=1) is first
    assert reader.reads == 2  # one background read, however many requests
    reader.gate.set()
    await asyncio.sleep(0.1)
    refreshed = await cache.get(credential_id)
    assert refreshed is not None
    assert refreshed is not first
    assert refreshed.loaded_at == 1.5
    reader.gate.clear()
    now[0] = 3.6  # past the refreshed entry's bound: the request waits for the read
    waiting = asyncio.ensure_future(cache.get(credential_id))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    reader.gate.set()
    assert (await waiting) is not refreshed
    await cache.aclose()


async def test_a_read_in_flight_when_a_change_is_announced_is_not_kept(
    gated: Gated,
) -> None:
    credential_id, reader, now, cache, first = gated
    now[0] = 1.9  # a background re-read starts and waits at the gate
    assert await cache.get(credential_id) is first
    await asyncio.sleep(0.05)
    assert reader.reads == 2
    cache.forget(credential_id)  # a change announced (NOTIFY) while that read is in flight
    reader.gate.set()
    await asyncio.sleep(0.1)
    assert await cache.get(credential_id) is not None
    assert reader.reads == 3  # the old read was neither kept nor joined
    await cache.aclose()


class CountingReader:
    def __init__(self, reader: SnapshotReader) -> None:
        self.reader = reader
        self.reads = 0

    async def by_id(self, credential_id: uuid.UUID) -> SnapshotRow | None:
        self.reads += 1
        return await self.reader.by_id(credential_id)

    async def by_slot(self, account_id: str, market: str, environment: str) -> SnapshotRow | None:
        self.reads += 1
        return await self.reader.by_slot(account_id, market, environment)

    async def aclose(self) -> None:
        return None


async def test_postgres_keeps_what_its_listener_vouches_for_and_sqlite_rereads(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    credential = await signature_credential(client, walmart_control)
    snapshots = vault_state.issuer.snapshots
    listening = vault_state.settings.database_url.startswith("postgresql")
    if listening:  # the listener connects at start-up; reads before it are not vouched for
        assert isinstance(snapshots.watch, ChangeListener)
        await asyncio.wait_for(snapshots.watch.connected.wait(), timeout=10)
        # Earlier tests' clean-up is announced too: let those announcements arrive first.
        await asyncio.wait_for(snapshots.watch.caught_up(), timeout=10)
    reader = CountingReader(snapshots.reader)
    snapshots.reader = reader
    snapshots.forget(uuid.UUID(credential["id"]))
    url = walmart.base_url + "/v3/ca/feeds"
    assert (await headers_for(client, credential["id"], "GET", url))["version"] == 1
    assert reader.reads == 1
    await asyncio.sleep(vault_state.settings.cache_max_staleness_seconds + 0.3)
    assert (await headers_for(client, credential["id"], "GET", url))["version"] == 1
    assert reader.reads == (1 if listening else 2)
    # A change made through the vault is seen at once either way.
    disabled = await client.patch(f"/v1/credentials/{credential['id']}", json={"disabled": True})
    assert disabled.status_code == 200
    issued = await client.post(
        f"/v1/credentials/{credential['id']}/headers", json={"method": "GET", "url": url}
    )
    assert issued.status_code == 409


async def test_a_rewrap_makes_every_listening_replica_drop_the_old_sealed_secret(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    if not vault_state.settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has no listener: its snapshots live by the bound alone")
    credential_id = uuid.UUID((await signature_credential(client, walmart_control))["id"])
    snapshots = vault_state.issuer.snapshots
    before = await snapshots.get(credential_id)
    assert before is not None
    assert before.sealed_secret is not None
    rotated = with_new_kek(vault_state.settings, "next-1")
    async with transaction(vault_state.sessionmaker) as session:
        assert await rewrap_batch(sealed_tables(session), rotated, size=10) == 1
    started = asyncio.get_running_loop().time()
    while (now := await snapshots.get(credential_id)) is before:
        # Well inside the bound: only the notification can have dropped it.
        assert asyncio.get_running_loop().time() - started < 1.0, "old sealed secret kept"
        await asyncio.sleep(0.02)
    assert now is not None
    assert Envelope.kek_of(now.sealed_secret or "")[1] == "next-1"


async def _postgres_reader_with(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart_control: SimulatorControl,
    count: int,
) -> tuple[AsyncpgReader, list[uuid.UUID]]:
    """The app's PostgreSQL reader (the test is skipped on SQLite) and ``count`` new
    signature credentials' ids."""
    reader = vault_state.issuer.snapshots.reader
    if not isinstance(reader, AsyncpgReader):
        pytest.skip("SQLite reads through the session, one at a time")
    ids = []
    for n in range(count):
        created = await signature_credential(client, walmart_control, account_id=f"acme-{n}")
        ids.append(uuid.UUID(created["id"]))
    return reader, ids


async def test_postgres_reads_by_id_asked_together_share_one_statement(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    reader, ids = await _postgres_reader_with(client, vault_state, walmart_control, 4)
    deleted = ids.pop()
    assert (await client.delete(f"/v1/credentials/{deleted}")).status_code == 204
    statements = 0
    rows = reader._rows

    async def counted(*args: Any) -> list[SnapshotRow]:
        nonlocal statements
        statements += 1
        return await rows(*args)

    reader._rows = counted  # type: ignore[method-assign,assignment]
    unknown = uuid.uuid4()
    found = await asyncio.gather(*(reader.by_id(i) for i in [*ids, unknown, deleted, ids[0]]))
    assert [row.id if row else None for row in found] == [*ids, None, None, ids[0]]
    assert statements == 1


async def test_postgres_reads_asked_while_every_statement_is_out_leave_together(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    reader, ids = await _postgres_reader_with(
        client, vault_state, walmart_control, MAX_IN_FLIGHT + 3
    )
    sent: list[list[uuid.UUID]] = []
    release = asyncio.Event()
    rows = reader._rows

    async def held(compiled: Any, params: Any) -> list[SnapshotRow]:
        sent.append(list(params["credential_ids"]))
        await release.wait()
        return await rows(compiled, params)

    reader._rows = held  # type: ignore[method-assign]

    async def ask(credential_id: uuid.UUID) -> asyncio.Future[SnapshotRow | None]:
        asked = asyncio.ensure_future(reader.by_id(credential_id))
        for _ in range(5):  # its turn ends, and a batch that may leave has left
            await asyncio.sleep(0)
        return asked

    first = [await ask(i) for i in ids[:MAX_IN_FLIGHT]]  # one statement each: all out
    later = [await ask(i) for i in ids[MAX_IN_FLIGHT:]]
    assert sent == [[i] for i in ids[:MAX_IN_FLIGHT]]  # the later ones wait
    release.set()
    found = await asyncio.gather(*first, *later)
    assert [row.id if row else None for row in found] == ids
    assert sent[MAX_IN_FLIGHT:] == [ids[MAX_IN_FLIGHT:]]  # and leave in one statement


async def _stalled_reader(settings: Settings, seconds: float) -> tuple[AsyncpgReader, list[int]]:
    """A reader whose statements never come back (a stalled database): every statement's
    id count is recorded."""
    engine = make_engine(settings.database_url, timeout_seconds=seconds)
    reader = await AsyncpgReader.open(engine, max_connections=2, seconds=seconds)
    sent: list[int] = []

    async def stalled(_compiled: Any, params: Any) -> list[SnapshotRow]:
        sent.append(len(params["credential_ids"]))
        await asyncio.Event().wait()
        return []

    reader._rows = stalled  # type: ignore[method-assign,assignment]
    return reader, sent


async def _every_statement_out(reader: AsyncpgReader) -> list[asyncio.Future[SnapshotRow | None]]:
    out: list[asyncio.Future[SnapshotRow | None]] = []
    for _ in range(MAX_IN_FLIGHT):
        out.append(asyncio.ensure_future(reader.by_id(uuid.uuid4())))
        for _ in range(5):  # this one's statement has left
            await asyncio.sleep(0)
    return out


async def test_postgres_reads_queued_behind_a_stalled_database_fail_within_the_timeout(
    settings: Settings,
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite reads through the session, one at a time")
    reader, sent = await _stalled_reader(settings, seconds=0.3)
    try:
        out = await _every_statement_out(reader)
        loop = asyncio.get_running_loop()
        started = loop.time()
        queued = asyncio.gather(*(reader.by_id(uuid.uuid4()) for _ in range(3)))
        with pytest.raises(DatabaseUnavailable):  # and the outage grace applies to them
            await asyncio.wait_for(queued, timeout=5)
        assert 0.25 <= loop.time() - started < 2
        assert sent == [1] * MAX_IN_FLIGHT  # they never had a statement
    finally:
        await reader.aclose()
    assert all(future.cancelled() for future in out)


async def test_postgres_reader_closing_sends_nothing_more(settings: Settings) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite reads through the session, one at a time")
    reader, sent = await _stalled_reader(settings, seconds=5)
    out = await _every_statement_out(reader)
    queued = [asyncio.ensure_future(reader.by_id(uuid.uuid4())) for _ in range(3)]
    await asyncio.sleep(0)
    await reader.aclose()
    for _ in range(5):
        await asyncio.sleep(0)
    assert sent == [1] * MAX_IN_FLIGHT  # the queued ids left in no statement
    assert all(future.cancelled() for future in [*out, *queued])
    with pytest.raises(DatabaseUnavailable):
        await reader.by_id(uuid.uuid4())


async def test_postgres_plans_the_reads_once_as_primary_key_lookups(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    reader = vault_state.issuer.snapshots.reader
    if not isinstance(reader, AsyncpgReader):
        pytest.skip("SQLite reads through the session")
    credential = await signature_credential(client, walmart_control)
    for _ in range(8):  # past the five custom plans PostgreSQL would otherwise make first
        assert await reader.by_id(uuid.UUID(credential["id"])) is not None
        assert await reader.by_slot("acme-ca", "CA", "production") is not None
    async with reader._pool.acquire() as connection:  # one connection did every read above
        plans = await connection.fetch(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        )
        lookup = await connection.fetch(
            "EXPLAIN " + reader._by_ids[0], [uuid.UUID(credential["id"])]
        )
    reads = [p for p in plans if "FROM credentials" in p["statement"]]
    assert len(reads) == 2, plans  # by ids and by slot
    assert all(p["generic_plans"] >= 8 and p["custom_plans"] == 0 for p in reads), reads
    shown = "\n".join(row[0] for row in lookup)
    # Even on this small table without statistics, the one index on credentials it may use.
    assert "Index Scan using pk_credentials on credentials" in shown, shown
    assert "uq_credentials_live" not in shown, shown


async def test_every_read_waiting_on_an_unreachable_database_gets_its_own_error() -> None:
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nothing", timeout_seconds=1)
    reader = await AsyncpgReader.open(engine, max_connections=2, seconds=1)
    try:
        answers = await asyncio.gather(
            *(reader.by_id(uuid.uuid4()) for _ in range(3)), return_exceptions=True
        )
    finally:
        await reader.aclose()
        await engine.dispose()
    assert all(isinstance(a, DatabaseUnavailable) for a in answers)
    assert len({id(a) for a in answers}) == 3


async def test_a_batch_that_fails_unexpectedly_answers_every_waiter(
    vault_state: AppState,
) -> None:
    reader = vault_state.issuer.snapshots.reader
    if not isinstance(reader, AsyncpgReader):
        pytest.skip("SQLite reads through the session, one at a time")

    async def broken(*_args: Any) -> list[SnapshotRow]:
        raise ValueError("a bug, not an outage")

    reader._rows = broken  # type: ignore[method-assign,assignment]
    answers = await asyncio.wait_for(
        asyncio.gather(*(reader.by_id(uuid.uuid4()) for _ in range(3)), return_exceptions=True),
        timeout=5,
    )
    assert all(isinstance(a, ValueError) for a in answers)
