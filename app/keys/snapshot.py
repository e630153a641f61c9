"""What the hot path holds about a credential: its public half and its current version.

A snapshot is enough to bind, open and use the version's key material (``KeyStore``) and to
ask for its access token (``TokenBroker``); the cache that keeps snapshots fresh is
``app.headers.snapshot.SnapshotCache``.

Its fields are written once, here. The database read behind a snapshot selects the values of
``ROW_FIELDS`` in their order (``app.credentials.repository.snapshots``), and
``CredentialSnapshot.from_row`` takes them positionally: adding a field means adding it here
and, if the credential has no column of that name, saying where the read finds it.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import KW_ONLY, dataclass, field, fields
from datetime import datetime
from typing import Any

from app.db import utcnow


class SnapshotRow(tuple[Any, ...]):
    """One read's values of ``ROW_FIELDS``, in order. Its repr names the credential only: the
    sealed secret is ciphertext, but kept out of reprs like everything secret."""

    __slots__ = ()

    @property
    def id(self) -> uuid.UUID:
        return self[0]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"SnapshotRow(id={self.id})"


@dataclass(frozen=True, slots=True)
class CredentialSnapshot:
    # What the read found: the credential's public half, as its row has it
    id: uuid.UUID
    account_id: str
    market: str
    environment: str
    kind: str
    public_id: str
    channel_type: str | None
    version: int  # the current version
    status: str
    token_fetched_at: datetime | None  # the shared token's fetch time, as of ``loaded_wall``
    # The current version's sealed secret (ciphertext, but kept out of reprs all the same).
    sealed_secret: str | None = field(default=None, repr=False, compare=False)
    # When it was read, and under which listening connection
    _: KW_ONLY
    loaded_wall: datetime
    loaded_at: float  # monotonic
    epoch: int = field(default=0, compare=False)

    @classmethod
    def from_row(cls, row: SnapshotRow, *, loaded_at: float, epoch: int = 0) -> CredentialSnapshot:
        """The snapshot of one read, made now; ``loaded_at`` by the reader's monotonic clock."""
        # A worker keeps thousands of snapshots: each read's copies of the same few words
        # (market, kind, status) would cost a couple of hundred bytes per snapshot.
        values: list[Any] = [sys.intern(v) if i in _WORDS else v for i, v in enumerate(row)]
        return cls(*values, loaded_wall=utcnow(), loaded_at=loaded_at, epoch=epoch)


# The fields a read supplies, in the order it selects them.
ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CredentialSnapshot) if not f.kw_only)
# Only closed vocabularies: a free-text field's every value would stay interned.
_WORDS = frozenset(ROW_FIELDS.index(name) for name in ("market", "environment", "kind", "status"))
