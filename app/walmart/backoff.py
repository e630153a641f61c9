"""When the vault may call Walmart's token endpoint again for a credential after a failed
token call: 1 s after the first failure, doubling to 60 s, or Walmart's Retry-After when that
is longer, so an outage at Walmart is not met with one token call per request. The clock is a
parameter (the broker's)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from cachetools import TTLCache

from app.walmart.outcomes import WalmartFailure

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Backoff:
    until: float
    delay: float
    failure: WalmartFailure

    def answer(self, now: float) -> WalmartFailure:
        """The failure, with ``retry_after`` saying when the vault calls Walmart again (not a
        Retry-After Walmart gave for an earlier, shorter wait)."""
        left = max(1, math.ceil(self.until - now))
        return replace(self.failure, details=self.failure.details | {"retry_after": left})


class Backoffs:
    """The backoff of each credential whose last token call failed; bounded in count, and in
    time (an entry outlives its longest wait only long enough to double it)."""

    def __init__(self, max_entries: int, *, timer: Callable[[], float]) -> None:
        self._timer = timer  # one clock for the waits and for the entries' expiry
        self._entries: TTLCache[uuid.UUID, Backoff] = TTLCache(
            maxsize=max_entries, ttl=MAX_BACKOFF_SECONDS * 2, timer=timer
        )

    def active(self, credential_id: uuid.UUID) -> Backoff | None:
        """The backoff still running, if any."""
        backoff = self._entries.get(credential_id)
        return backoff if backoff is not None and self._timer() < backoff.until else None

    def failed(self, credential_id: uuid.UUID, failure: WalmartFailure) -> Backoff:
        previous = self._entries.get(credential_id)
        delay = min(previous.delay * 2, MAX_BACKOFF_SECONDS) if previous else FIRST_BACKOFF_SECONDS
        retry_after = failure.details.get("retry_after")
        if isinstance(retry_after, int | float):
            delay = max(delay, min(float(retry_after), MAX_BACKOFF_SECONDS))
        backoff = self._entries[credential_id] = Backoff(self._timer() + delay, delay, failure)
        return backoff

    def succeeded(self, credential_id: uuid.UUID) -> None:
        self._entries.pop(credential_id, None)
