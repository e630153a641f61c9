"""A snapshot miss is one read that brings the current sealed secret along (both databases)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from app.headers.reader import SnapshotReader, SnapshotRow
from app.headers.snapshot import CredentialSnapshot, SnapshotCache
from app.state import AppState
from tests.api.walmart_setup import headers_for, signature_credential
from tests.factories import CHANNEL_TYPE, new_rsa_key, signature_auth
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

    new_key = new_rsa_key(1024)
    walmart_control.add_consumer(credential["consumer_id"], new_key, channel_type=CHANNEL_TYPE)
    rotated = await client.post(
        f"/v1/credentials/{credential_id}/rotate",
        json={"auth": signature_auth(credential["consumer_id"], new_key)},
    )
    assert rotated.status_code == 200, rotated.text
    snapshots.forget(credential_id)
    fresh = await snapshots.get(credential_id)
    assert fresh is not None
    assert fresh.version == 2
    assert fresh.sealed_secret != snapshot.sealed_secret
    issued = await headers_for(client, credential["id"], "GET", walmart.base_url + "/v3/ca/feeds")
    assert issued["version"] == 2
    assert await snapshots.get(uuid.uuid4()) is None
    assert await snapshots.for_slot("nobody", "CA", "production") is None


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
    cache = SnapshotCache(reader, max_staleness=2.0, clock=lambda: now[0])
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
