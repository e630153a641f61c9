"""Rate limits of the public pages (the seller's browser, no API token).

Three kinds of bucket, each counted apart so that none can spend another:

- per link: submissions through one hand-over link;
- per address: submissions from one client address through links that exist;
- per address for strangers: posts to hand-over tokens and callbacks with ``state`` values
  that name nothing (or nothing usable any more). Whoever guesses tokens spends only this
  bucket, never the budget of sellers who share the address (behind a proxy whose address
  the vault was not told to trust, every browser shares one).

Counted in this process's memory with the ``limits`` library's moving window: a replica that
restarts forgets, and N replicas allow N times the rate. That is enough for what these limits
are for (slowing a script that found a link, or one address trying many links); the hard
bounds live in the database: one submission at a time per link, and 5 refused ones in all.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int = 0


class PageThrottle:
    def __init__(self, *, per_link: int, per_address: int) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_link = RateLimitItemPerMinute(per_link)
        self._per_address = RateLimitItemPerMinute(per_address)

    def address(self, address: str) -> Verdict:
        return self._hit(self._per_address, "address", address)

    def link(self, link_id: str) -> Verdict:
        return self._hit(self._per_link, "link", link_id)

    def stranger(self, address: str) -> Verdict:
        """A token or state that names nothing usable, from ``address``."""
        return self._hit(self._per_address, "stranger", address)

    def _hit(self, item: RateLimitItemPerMinute, *identifiers: str) -> Verdict:
        if self._limiter.hit(item, *identifiers):
            return Verdict(allowed=True)
        stats = self._limiter.get_window_stats(item, *identifiers)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(allowed=False, retry_after_seconds=wait)


def client_address(request: Request) -> str:
    """The client's address as uvicorn saw it: the proxy's own, unless the proxy is trusted
    (``FORWARDED_ALLOW_IPS``) and said whom it forwards for."""
    return request.client.host if request.client else "unknown"
