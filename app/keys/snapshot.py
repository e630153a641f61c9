"""What the hot path holds about a credential: its public half and its current version.

A snapshot is enough to bind, open and use the version's key material (``KeyStore``) and to
ask for its access token (``TokenBroker``); the cache that keeps snapshots fresh is
``app.headers.snapshot.SnapshotCache``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime


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
    # The current version's sealed secret (ciphertext, but kept out of reprs all the same).
    sealed_secret: str | None = field(default=None, repr=False, compare=False)
    epoch: int = field(default=0, compare=False)  # the listening connection it was read under
