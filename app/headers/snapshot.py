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
from collections.abc import Callable

from cachetools import LRUCache

from app.changes import NOT_LISTENING, ChangeWatch
from app.freshness import Freshness, FreshnessCache
from app.headers.reader import SnapshotReader
from app.keys.snapshot import CredentialSnapshot, SnapshotRow
from app.single_flight import SingleFlight

Slot = tuple[str, str, str]  # account id, market, environment


class SnapshotCache:
    def __init__(
        self,
        reader: SnapshotReader,
        *,
        max_staleness: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[uuid.UUID], None] = lambda _id: None,
        watch: ChangeWatch = NOT_LISTENING,
        outage_grace: float = 0.0,
    ) -> None:
        self.reader = reader
        self.on_change = on_change
        self.rule = Freshness(max_staleness, outage_grace, watch, clock)
        # Bounded, least recently used first out: a worker must not keep every seller.
        self._by_id: FreshnessCache[uuid.UUID, CredentialSnapshot] = FreshnessCache(
            self._read_id, self.rule, max_entries=max_entries, spread=_spread
        )
        # Which credential holds an account's slot. A holder is checked against its snapshot on
        # every use (deleted or moved: the slot is read again), so only "nobody holds it" needs
        # the staleness rules, and is dropped on any change (a new credential may fill it).
        self._holders: LRUCache[Slot, uuid.UUID] = LRUCache(maxsize=max_entries)
        self._vacant: LRUCache[Slot, tuple[float, int]] = LRUCache(maxsize=max_entries)
        self._slot_flights: SingleFlight[CredentialSnapshot | None] = SingleFlight()

    @property
    def watch(self) -> ChangeWatch:
        return self.rule.watch

    async def get(self, credential_id: uuid.UUID) -> CredentialSnapshot | None:
        """The live credential, or ``None`` if it does not exist or was deleted."""
        return await self._by_id.get(credential_id)

    async def for_slot(
        self, account_id: str, market: str, environment: str
    ) -> CredentialSnapshot | None:
        slot = (account_id, market, environment)
        holder = self._holders.get(slot)
        if holder is not None:
            snapshot = await self.get(holder)
            if snapshot is not None and _slot_of(snapshot) == slot:
                return snapshot
        elif (vacant := self._vacant.get(slot)) is not None and self.rule.trusted(*vacant):
            return None
        return await self._slot_flights.run(slot, functools.partial(self._read_slot, slot))

    async def aclose(self) -> None:
        await self._by_id.aclose()
        await self._slot_flights.aclose()

    def forget(self, credential_id: uuid.UUID) -> None:
        """A change to the credential was announced: drop what this worker knows of it."""
        self._by_id.forget(credential_id)
        self._slot_flights.discard()
        self._vacant = LRUCache(maxsize=self._vacant.maxsize)

    async def _read_id(self, credential_id: uuid.UUID) -> CredentialSnapshot | None:
        cached = self._by_id.kept(credential_id)
        fresh = self._snapshot(await self.reader.by_id(credential_id))
        if cached is not None and (
            fresh is None or (fresh.version, fresh.status) != (cached.version, cached.status)
        ):
            # Seen by the recheck rather than a notification: drop the old version's key/token.
            self.on_change(credential_id)
        return fresh

    async def _read_slot(self, slot: Slot) -> CredentialSnapshot | None:
        generation, epoch = self._by_id.generation(), self.watch.epoch()
        fresh = self._snapshot(await self.reader.by_slot(*slot))
        if generation != self._by_id.generation():
            return fresh  # for the requests already waiting on this read, not kept
        self._holders.pop(slot, None)
        self._vacant.pop(slot, None)
        if fresh is None:
            self._vacant[slot] = (self.rule.clock(), epoch)
        else:
            self._holders[slot] = fresh.id
            self._by_id.put(fresh.id, fresh, epoch=epoch, generation=generation)
        return fresh

    def _snapshot(self, row: SnapshotRow | None) -> CredentialSnapshot | None:
        if row is None:
            return None
        return CredentialSnapshot.from_row(
            row, loaded_at=self.rule.clock(), epoch=self.watch.epoch()
        )


def _spread(credential_id: uuid.UUID) -> float:
    return (credential_id.int % 512) / 512


def _slot_of(snapshot: CredentialSnapshot) -> Slot:
    return (snapshot.account_id, snapshot.market, snapshot.environment)
