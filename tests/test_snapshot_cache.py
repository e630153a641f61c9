"""The snapshot cache's rules for trusting what it read, on an in-memory reader."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass, field

import pytest

from app.errors import DatabaseUnavailable
from app.headers.snapshot import SnapshotCache
from app.keys.snapshot import ROW_FIELDS, SnapshotRow

BOUND = 2.0


@dataclass
class Watch:
    """A change listener stand-in: vouches for reads made under ``epoch`` while ``vouching``."""

    current: int = 1
    vouching: bool = True

    def epoch(self) -> int:
        return self.current

    def vouches_for(self, epoch: int) -> bool:
        return self.vouching and epoch == self.current

    def confirmed_at(self, epoch: int) -> float:
        return -math.inf  # entries count from their read alone


@dataclass
class Rows:
    """The database: live credentials by id, and how many reads each kind of lookup made."""

    live: dict[uuid.UUID, SnapshotRow] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=lambda: {"id": 0, "slot": 0})
    down: bool = False  # the database does not answer

    def add(self, account_id: str, version: int = 1) -> uuid.UUID:
        credential_id = uuid.uuid4()
        self.live[credential_id] = SnapshotRow(
            (
                credential_id,
                account_id,
                "CA",
                "production",
                "signature",
                "consumer",
                "channel",
                version,
                "valid",
                None,
                "v1$sealed",
            )
        )
        return credential_id

    def change(self, credential_id: uuid.UUID, **values: object) -> None:
        old = self.live[credential_id]
        self.live[credential_id] = SnapshotRow(
            values.get(name, value) for name, value in zip(ROW_FIELDS, old, strict=True)
        )

    async def by_id(self, credential_id: uuid.UUID) -> SnapshotRow | None:
        self.reads["id"] += 1
        if self.down:
            raise DatabaseUnavailable()
        return self.live.get(credential_id)

    async def by_slot(self, account_id: str, market: str, environment: str) -> SnapshotRow | None:
        self.reads["slot"] += 1
        slot = (account_id, market, environment)
        return next((r for r in self.live.values() if (r[1], r[2], r[3]) == slot), None)

    async def aclose(self) -> None:
        return None


@pytest.fixture
def rows() -> Rows:
    return Rows()


@pytest.fixture
def now() -> list[float]:
    return [0.0]


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def cache(rows: Rows, now: list[float], watch: Watch) -> SnapshotCache:
    return SnapshotCache(
        rows, max_staleness=BOUND, max_entries=100, clock=lambda: now[0], watch=watch
    )


async def test_a_vouched_entry_is_kept_past_the_bound_and_rechecked_once_it_is_not(
    cache: SnapshotCache, rows: Rows, now: list[float], watch: Watch
) -> None:
    credential_id = rows.add("acme")
    first = await cache.get(credential_id)
    assert first is not None
    assert first.epoch == 1
    now[0] = 3600.0
    assert await cache.get(credential_id) is first
    assert rows.reads["id"] == 1
    watch.vouching = False  # pings lapsed: past the bound, the request re-reads
    rows.change(credential_id, version=2)
    again = await cache.get(credential_id)
    assert again is not None
    assert again.version == 2
    assert rows.reads["id"] == 2


async def test_an_entry_read_on_an_earlier_connection_lives_by_the_bound(
    cache: SnapshotCache, rows: Rows, now: list[float], watch: Watch
) -> None:
    credential_id = rows.add("acme")
    watch.current = 0  # not listening when it was read
    first = await cache.get(credential_id)
    assert first is not None
    watch.current = 2  # listening again: changes in between may have gone unannounced
    now[0] = 1.0
    assert await cache.get(credential_id) is first
    now[0] = BOUND + 0.1
    assert await cache.get(credential_id) is not first
    assert rows.reads["id"] == 2
    now[0] = 3600.0  # that read was made while listening
    assert await cache.get(credential_id) is not None
    assert rows.reads["id"] == 2


async def test_a_vacant_slot_is_kept_until_any_credential_changes(
    cache: SnapshotCache, rows: Rows, now: list[float]
) -> None:
    assert await cache.for_slot("acme", "CA", "production") is None
    now[0] = 3600.0
    assert await cache.for_slot("acme", "CA", "production") is None
    assert rows.reads["slot"] == 1
    created = rows.add("acme")
    cache.forget(created)  # what the creation's notification does
    found = await cache.for_slot("acme", "CA", "production")
    assert found is not None
    assert found.id == created
    assert rows.reads["slot"] == 2


async def test_a_slot_holder_is_checked_against_its_own_snapshot(
    cache: SnapshotCache, rows: Rows, now: list[float]
) -> None:
    old = rows.add("acme")
    assert (await cache.for_slot("acme", "CA", "production")) is not None
    now[0] = 3600.0
    assert (await cache.for_slot("acme", "CA", "production")) is not None
    assert rows.reads == {"id": 0, "slot": 1}  # the slot's read brought the snapshot along
    del rows.live[old]  # deleted and replaced; this replica is told about the deletion only
    new = rows.add("acme")
    cache.forget(old)
    found = await cache.for_slot("acme", "CA", "production")
    assert found is not None
    assert found.id == new
    assert rows.reads == {"id": 1, "slot": 2}


async def test_without_a_listener_a_vacant_slot_lives_by_the_bound(
    rows: Rows, now: list[float]
) -> None:
    cache = SnapshotCache(rows, max_staleness=BOUND, max_entries=100, clock=lambda: now[0])
    assert await cache.for_slot("acme", "CA", "production") is None
    rows.add("acme")  # registered through another process, which cannot tell this one
    now[0] = BOUND - 0.1
    assert await cache.for_slot("acme", "CA", "production") is None
    now[0] = BOUND + 0.1
    assert await cache.for_slot("acme", "CA", "production") is not None
    assert rows.reads["slot"] == 2


async def test_during_an_outage_an_entry_is_served_for_the_grace_then_refused(
    rows: Rows, now: list[float]
) -> None:
    cache = SnapshotCache(
        rows, max_staleness=BOUND, max_entries=100, clock=lambda: now[0], outage_grace=30.0
    )
    credential_id = rows.add("acme")
    first = await cache.get(credential_id)
    rows.down = True
    now[0] = BOUND + 29.0  # past the bound, within the grace: the entry it has
    assert await cache.get(credential_id) is first
    now[0] = BOUND + 31.0  # past the grace: the outage is the answer
    with pytest.raises(DatabaseUnavailable):
        await cache.get(credential_id)
    rows.down = False  # back: read again, and kept
    again = await cache.get(credential_id)
    assert again is not None
    assert again is not first


async def test_without_a_grace_an_outage_past_the_bound_is_refused(
    cache: SnapshotCache, rows: Rows, now: list[float], watch: Watch
) -> None:
    watch.vouching = False
    credential_id = rows.add("acme")
    await cache.get(credential_id)
    rows.down = True
    now[0] = BOUND + 0.1
    with pytest.raises(DatabaseUnavailable):
        await cache.get(credential_id)


async def test_closing_ends_a_read_that_a_change_left_running(rows: Rows) -> None:
    """A read under way when a change is announced is left to finish on its own (later
    requests read afresh); shutdown must still end it, not leave it to outlive the app."""
    started = asyncio.Event()

    async def slow_by_id(credential_id: uuid.UUID) -> SnapshotRow | None:
        started.set()
        await asyncio.Event().wait()  # a database that has not answered yet
        return rows.live.get(credential_id)

    rows.by_id = slow_by_id  # type: ignore[method-assign]
    cache = SnapshotCache(rows, max_staleness=BOUND, max_entries=100)
    credential_id = rows.add("acct")
    request = asyncio.ensure_future(cache.get(credential_id))
    await started.wait()
    cache.forget(credential_id)  # the read in flight is no longer joined by later requests
    await asyncio.wait_for(cache.aclose(), timeout=5)
    # The request waiting on it is answered as any read at shutdown is, not cancelled.
    with pytest.raises(DatabaseUnavailable, match="shutting down"):
        await request


async def test_after_closing_a_kept_entry_due_for_a_recheck_is_still_served(
    cache: SnapshotCache, rows: Rows, now: list[float], watch: Watch
) -> None:
    credential_id = rows.add("acct")
    first = await cache.get(credential_id)
    watch.vouching = False
    await cache.aclose()  # shutting down: no recheck may start
    now[0] = BOUND * 0.9  # past the point where a recheck starts, within the bound
    assert await cache.get(credential_id) == first
    assert rows.reads["id"] == 1
