"""What the hot path knows about a credential, and how long it may trust it.

A snapshot is the public half of a credential plus its current version, read from the database
and trusted for at most ``VAULT_CACHE_MAX_STALENESS_SECONDS``: after that the next request
re-reads the row. Every change to a credential, its versions or its stored token, by any path,
is announced by the database and drops the entry on every replica (``app.changes``); the
listener also vouches that it would have heard (``app.changes.ChangeWatch``): while it does,
an entry is kept without re-reading, and only the bound applies when it cannot. While the
database is unreachable an entry is served up to ``VAULT_CACHE_OUTAGE_GRACE_SECONDS`` past
the bound.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from app.changes import NOT_LISTENING, ChangeWatch
from app.db import utcnow
from app.errors import DatabaseUnavailable
from app.headers.reader import SnapshotReader, SnapshotRow
from app.keys.snapshot import CredentialSnapshot
from app.single_flight import SingleFlight

Slot = tuple[str, str, str]  # account id, market, environment
K = TypeVar("K")
V = TypeVar("V")


class SnapshotCache:
    def __init__(
        self,
        reader: SnapshotReader,
        *,
        max_staleness: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[uuid.UUID], None] = lambda _id: None,
        max_entries: int = 20_000,
        watch: ChangeWatch = NOT_LISTENING,
        outage_grace: float = 0.0,
    ) -> None:
        self.reader = reader
        self.watch = watch
        self.on_change = on_change
        self.max_staleness = max_staleness
        self.outage_grace = outage_grace
        self.clock = clock
        # Bounded, oldest first out: with 100,000 sellers a worker must not keep them all.
        self.max_entries = max_entries
        self._by_id: OrderedDict[uuid.UUID, CredentialSnapshot] = OrderedDict()
        # Which credential holds an account's slot. A holder is checked against its snapshot on
        # every use (deleted or moved: the slot is read again), so only "nobody holds it" needs
        # the staleness rules, and is dropped on any change (a new credential may fill it).
        self._holders: OrderedDict[Slot, uuid.UUID] = OrderedDict()
        self._vacant: OrderedDict[Slot, tuple[float, int]] = OrderedDict()  # read at, epoch
        # Past half its bound an entry in use is re-read in the background, so requests do not
        # wait on rechecks: hot credentials loaded together had their blocking rechecks queue
        # behind each other every bound, which showed in the tail latency.
        self.refresh_after = max_staleness / 2
        self._flights: SingleFlight[CredentialSnapshot | None] = SingleFlight()
        self._slot_flights: SingleFlight[CredentialSnapshot | None] = SingleFlight()
        # Bumped by ``forget``: a read that started before is not kept (it may predate the
        # change), and later requests do not join it.
        self._generation = 0

    async def get(self, credential_id: uuid.UUID) -> CredentialSnapshot | None:
        """The live credential, or ``None`` if it does not exist or was deleted."""
        cached = self._by_id.get(credential_id)
        if cached is not None and self.watch.vouches_for(cached.epoch):
            self._by_id.move_to_end(credential_id)  # least recently used goes first
            return cached
        reread = functools.partial(self._recheck, credential_id, cached)
        if cached is not None:
            age = self.clock() - cached.loaded_at
            if age < self.max_staleness:
                # Each credential at its own point between 1/2 and 3/4 of the bound, so entries
                # loaded together (a warm-up, a restart) do not all re-read in the same instant.
                if age >= self.refresh_after * (1 + (credential_id.int % 512) / 1024):
                    self._flights.start(credential_id, reread)
                return cached
        try:
            return await self._flights.run(credential_id, reread)
        except DatabaseUnavailable:
            if cached is not None and self._within_outage_grace(cached):
                return cached
            raise

    def _within_outage_grace(self, cached: CredentialSnapshot) -> bool:
        """While the database is away, an entry is served up to ``outage_grace`` past its
        bound, counted from when it was last known current (read, or vouched for)."""
        confirmed = max(cached.loaded_at, self.watch.confirmed_at(cached.epoch))
        return self.clock() - confirmed < self.max_staleness + self.outage_grace

    async def for_slot(
        self, account_id: str, market: str, environment: str
    ) -> CredentialSnapshot | None:
        slot = (account_id, market, environment)
        holder = self._holders.get(slot)
        if holder is not None:
            snapshot = await self.get(holder)
            if snapshot is not None and _slot_of(snapshot) == slot:
                return snapshot
        elif (vacant := self._vacant.get(slot)) is not None and (
            self.watch.vouches_for(vacant[1]) or self.clock() - vacant[0] < self.max_staleness
        ):
            return None
        return await self._slot_flights.run(slot, functools.partial(self._read_slot, slot))

    async def aclose(self) -> None:
        await self._flights.aclose()
        await self._slot_flights.aclose()

    def forget(self, credential_id: uuid.UUID) -> None:
        """Drop what this replica knows (the others re-read within the staleness bound)."""
        self._generation += 1
        self._flights.discard(credential_id)
        self._slot_flights.discard()
        self._by_id.pop(credential_id, None)
        self._vacant.clear()

    async def _recheck(
        self, credential_id: uuid.UUID, cached: CredentialSnapshot | None
    ) -> CredentialSnapshot | None:
        generation, epoch = self._generation, self.watch.epoch()
        fresh = self._keep(await self.reader.by_id(credential_id), generation, epoch)
        if cached is not None and (
            fresh is None or (fresh.version, fresh.status) != (cached.version, cached.status)
        ):
            # Seen by the recheck rather than a notification: drop the old version's key/token.
            self.on_change(credential_id)
        if fresh is None:
            self._by_id.pop(credential_id, None)
        return fresh

    async def _read_slot(self, slot: Slot) -> CredentialSnapshot | None:
        generation, epoch = self._generation, self.watch.epoch()
        fresh = self._keep(await self.reader.by_slot(*slot), generation, epoch)
        if generation != self._generation:
            return fresh
        self._holders.pop(slot, None)
        self._vacant.pop(slot, None)
        if fresh is None:
            _bounded_put(self._vacant, slot, (self.clock(), epoch), self.max_entries)
        else:
            _bounded_put(self._holders, slot, fresh.id, self.max_entries)
        return fresh

    def _keep(
        self, row: SnapshotRow | None, generation: int, epoch: int
    ) -> CredentialSnapshot | None:
        if row is None:
            return None
        snapshot = CredentialSnapshot(
            id=row.id,
            account_id=row.account_id,
            market=row.market,
            environment=row.environment,
            kind=row.kind,
            public_id=row.public_id,
            channel_type=row.channel_type,
            version=row.current_version,
            status=row.status,
            token_fetched_at=row.token_fetched_at,
            loaded_wall=utcnow(),
            loaded_at=self.clock(),
            sealed_secret=row.sealed_secret,
            epoch=epoch,
        )
        if generation != self._generation:
            return snapshot  # for the requests already waiting on this read, not kept
        _bounded_put(self._by_id, snapshot.id, snapshot, self.max_entries)
        return snapshot


def _bounded_put(entries: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    """Insert as the most recent entry; past ``limit`` the least recent goes."""
    entries[key] = value
    entries.move_to_end(key)
    if len(entries) > limit:
        entries.popitem(last=False)


def _slot_of(snapshot: CredentialSnapshot) -> Slot:
    return (snapshot.account_id, snapshot.market, snapshot.environment)
