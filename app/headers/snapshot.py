"""What the hot path knows about a credential, and how long it may trust it.

A snapshot is the public half of a credential plus its current version, read from the database
and trusted for at most ``VAULT_CACHE_MAX_STALENESS_SECONDS``: after that the next request
re-reads the row, so a rotation, disable, delete or token invalidation made through any
replica reaches every replica within that bound.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.credentials.models import Credential
from app.db import utcnow
from app.headers.reader import SnapshotReader, SnapshotRow
from app.single_flight import SingleFlight


@dataclass(frozen=True, slots=True)
class CredentialSnapshot:
    id: uuid.UUID
    account_id: str
    market: str
    environment: str
    kind: str
    public_id: str
    channel_type: str | None
    version: int
    status: str
    token_fetched_at: datetime | None  # the shared token's fetch time, as of ``loaded_wall``
    loaded_wall: datetime
    loaded_at: float  # monotonic
    # The current version's sealed secret when read with the snapshot (one query per miss);
    # ciphertext, but kept out of reprs all the same.
    sealed_secret: str | None = field(default=None, repr=False, compare=False)


class SnapshotCache:
    def __init__(
        self,
        reader: SnapshotReader,
        *,
        max_staleness: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[uuid.UUID], None] = lambda _id: None,
        max_entries: int = 20_000,
    ) -> None:
        self.reader = reader
        self.on_change = on_change
        self.max_staleness = max_staleness
        self.clock = clock
        # Bounded, oldest first out: with 100,000 sellers a worker must not keep them all.
        self.max_entries = max_entries
        self._by_id: OrderedDict[uuid.UUID, CredentialSnapshot] = OrderedDict()
        self._by_slot: OrderedDict[tuple[str, str, str], tuple[uuid.UUID | None, float]] = (
            OrderedDict()
        )
        # Past half its bound an entry in use is re-read in the background, so requests do not
        # wait on rechecks: with 100 hot credentials loaded together, their blocking rechecks
        # every 2 s queued behind each other and put 100+ ms into the p99 latency.
        self.refresh_after = max_staleness / 2
        self._flights: SingleFlight[CredentialSnapshot | None] = SingleFlight()
        self._slot_flights: SingleFlight[CredentialSnapshot | None] = SingleFlight()
        # Bumped by ``forget``: a read that started before is not kept (it may predate the
        # change), and later requests do not join it.
        self._generation = 0

    async def get(self, credential_id: uuid.UUID) -> CredentialSnapshot | None:
        """The live credential, or ``None`` if it does not exist or was deleted."""
        cached = self._by_id.get(credential_id)
        reread = functools.partial(self._recheck, credential_id, cached)
        if cached is not None:
            age = self.clock() - cached.loaded_at
            if age < self.max_staleness:
                # Each credential at its own point between 1/2 and 3/4 of the bound, so entries
                # loaded together (a warm-up, a restart) do not all re-read in the same instant.
                if age >= self.refresh_after * (1 + (credential_id.int % 512) / 1024):
                    self._flights.start(credential_id, reread)
                return cached
        return await self._flights.run(credential_id, reread)

    async def for_slot(
        self, account_id: str, market: str, environment: str
    ) -> CredentialSnapshot | None:
        slot = (account_id, market, environment)
        known = self._by_slot.get(slot)
        reread = functools.partial(self._read_slot, slot)
        if known is not None:
            age = self.clock() - known[1]
            if age < self.max_staleness:
                if age >= self.refresh_after:
                    self._slot_flights.start(slot, reread)
                return await self.get(known[0]) if known[0] is not None else None
        return await self._slot_flights.run(slot, reread)

    async def aclose(self) -> None:
        await self._flights.aclose()
        await self._slot_flights.aclose()

    def forget(self, credential_id: uuid.UUID) -> None:
        """Drop what this replica knows (the others re-read within the staleness bound)."""
        self._generation += 1
        self._flights.discard(credential_id)
        self._slot_flights.discard()
        self._by_id.pop(credential_id, None)
        for slot, (known, _) in list(self._by_slot.items()):
            if known == credential_id:
                del self._by_slot[slot]

    async def _recheck(
        self, credential_id: uuid.UUID, cached: CredentialSnapshot | None
    ) -> CredentialSnapshot | None:
        generation = self._generation
        fresh = self._keep(await self.reader.by_id(credential_id), generation)
        if cached is not None and (
            fresh is None or (fresh.version, fresh.status) != (cached.version, cached.status)
        ):
            # Seen by the recheck rather than a notification: drop the old version's key/token.
            self.on_change(credential_id)
        if fresh is None:
            self._by_id.pop(credential_id, None)
        return fresh

    async def _read_slot(self, slot: tuple[str, str, str]) -> CredentialSnapshot | None:
        generation = self._generation
        fresh = self._keep(await self.reader.by_slot(*slot), generation)
        if generation != self._generation:
            return fresh
        self._by_slot[slot] = (fresh.id if fresh else None, self.clock())
        self._by_slot.move_to_end(slot)
        if len(self._by_slot) > self.max_entries:
            self._by_slot.popitem(last=False)
        return fresh

    def _keep(self, row: SnapshotRow | None, generation: int) -> CredentialSnapshot | None:
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
        )
        if generation != self._generation:
            return snapshot  # for the requests already waiting on this read, not kept
        self._by_id[snapshot.id] = snapshot
        self._by_id.move_to_end(snapshot.id)
        if len(self._by_id) > self.max_entries:
            self._by_id.popitem(last=False)
        return snapshot


def snapshot_of(
    credential: Credential, *, token_fetched_at: datetime | None = None, at: float | None = None
) -> CredentialSnapshot:
    return CredentialSnapshot(
        id=credential.id,
        account_id=credential.account_id,
        market=credential.market,
        environment=credential.environment,
        kind=credential.kind,
        public_id=credential.public_id,
        channel_type=credential.channel_type,
        version=credential.current_version,
        status=credential.status,
        token_fetched_at=token_fetched_at,
        loaded_wall=utcnow(),
        loaded_at=time.monotonic() if at is None else at,
    )
