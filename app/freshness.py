"""One freshness rule for what the hot path keeps in memory: credential snapshots and callers.

An entry read from the database is trusted

- while the change listener vouches for it (read on its current connection, pinged within the
  bound: ``app.changes.ChangeWatch``), with no re-read at all;
- otherwise for ``max_staleness`` (``VAULT_CACHE_MAX_STALENESS_SECONDS``) from its read. Past
  half the bound (each key at its own point, so entries loaded together do not all re-read in
  the same instant) an entry in use is re-read in the background, and no request waits on a
  recheck;
- while the database is unreachable, up to ``outage_grace``
  (``VAULT_CACHE_OUTAGE_GRACE_SECONDS``) past the bound, counted from when it was last known
  current (its read, or the listener's last answered ping on the connection it was read under).

``forget`` (a change announced) drops an entry and bumps a generation: a read that began
before the change is answered to the requests waiting on it, never kept, and later requests do
not join it. Concurrent misses of one key share one read (``SingleFlight``). Entries are
bounded in count, least recently used first out.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import LRUCache

from app.changes import NOT_LISTENING, ChangeWatch
from app.errors import DatabaseUnavailable
from app.single_flight import SingleFlight

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Fresh(Generic[V]):
    value: V
    loaded_at: float  # by the cache's clock
    epoch: int  # the listening connection it was read under (0: none)


@dataclass(frozen=True, slots=True)
class Freshness:
    """The rule's settings, shared by every cache of a process."""

    max_staleness: float
    outage_grace: float = 0.0
    watch: ChangeWatch = NOT_LISTENING
    clock: Callable[[], float] = time.monotonic

    def trusted(self, loaded_at: float, epoch: int) -> bool:
        """Whether what was read then may be used now without asking the database."""
        return self.watch.vouches_for(epoch) or self.clock() - loaded_at < self.max_staleness

    def within_outage_grace(self, loaded_at: float, epoch: int) -> bool:
        confirmed = max(loaded_at, self.watch.confirmed_at(epoch))
        return self.clock() - confirmed < self.max_staleness + self.outage_grace


class FreshnessCache(Generic[K, V]):
    """Entries ``load(key)`` read, kept by the rule above; ``load`` answering ``None`` (no such
    row) is not kept. ``spread(key)`` in [0, 1) places a key's background re-read between half
    and three quarters of the bound."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V | None]],
        rule: Freshness,
        *,
        max_entries: int,
        spread: Callable[[K], float] = lambda _key: 0.0,
    ) -> None:
        self._load = load
        self.rule = rule
        self._spread = spread
        self._entries: LRUCache[K, Fresh[V]] = LRUCache(maxsize=max_entries)
        self._flights: SingleFlight[V | None] = SingleFlight()
        self._generation = 0

    def kept(self, key: K) -> V | None:
        """The value kept for ``key``, however old (a reader comparing old and new)."""
        entry = self._entries.get(key)
        return None if entry is None else entry.value

    async def get(self, key: K) -> V | None:
        entry = self._entries.get(key)  # least recently used goes first
        rule = self.rule
        if entry is not None:
            if rule.watch.vouches_for(entry.epoch):
                return entry.value
            age = rule.clock() - entry.loaded_at
            if age < rule.max_staleness:
                if age >= rule.max_staleness / 2 * (1 + self._spread(key) / 2):
                    self._flights.refresh_ahead(key, functools.partial(self._read, key))
                return entry.value
        try:
            return await self._flights.run(key, functools.partial(self._read, key))
        except DatabaseUnavailable:
            if entry is not None and rule.within_outage_grace(entry.loaded_at, entry.epoch):
                return entry.value
            raise

    def put(self, key: K, value: V, *, epoch: int, generation: int) -> None:
        """Keep ``value`` read under ``epoch`` by a read that began at ``generation``
        (``generation()``), unless a change was announced since."""
        if generation == self._generation:
            self._entries[key] = Fresh(value, self.rule.clock(), epoch)

    def generation(self) -> int:
        return self._generation

    def forget(self, key: K | None = None) -> None:
        """Drop ``key`` (every key: ``None``): a change to it was announced."""
        self._generation += 1
        self._flights.discard(key)
        if key is None:
            self._entries = LRUCache(maxsize=self._entries.maxsize)
        else:
            self._entries.pop(key, None)

    def forget_where(self, matches: Callable[[V], bool]) -> None:
        self._generation += 1
        self._flights.discard()
        for key in [k for k, e in self._entries.items() if matches(e.value)]:
            self._entries.pop(key, None)

    async def aclose(self) -> None:
        await self._flights.aclose()

    async def _read(self, key: K) -> V | None:
        generation, epoch = self._generation, self.rule.watch.epoch()
        value = await self._load(key)
        if value is None:
            if generation == self._generation:
                self._entries.pop(key, None)
        else:
            self.put(key, value, epoch=epoch, generation=generation)
        return value
