"""What keeps one API client's proxied calls from starving everyone else's.

A proxied upload holds its connection to Walmart for as long as its caller streams the body,
so each client may have only ``VAULT_PROXY_CALLS_PER_CLIENT`` calls open at once (per replica),
and a body whose next chunk does not arrive within ``VAULT_PROXY_BODY_IDLE_SECONDS`` ends its
call. Proxied calls also use a connection pool of their own (``app.state``), apart from token
fetches, live tests, App Store callbacks and webhook deliveries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from app.errors import VaultError

RETRY_AFTER_SECONDS = 1


class TooManyProxyCalls(VaultError):
    status_code = 429
    code = "too_many_proxy_calls"


class ProxyBodyStalled(VaultError):
    status_code = 408
    code = "proxy_body_timeout"


class CallsPerClient:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, client_id: str) -> Callable[[], None]:
        """Count one more open call, or refuse it; returns the (idempotent) release."""
        open_calls = self._open.get(client_id, 0)
        if open_calls >= self.limit:
            raise TooManyProxyCalls(
                f"This client already has {self.limit} proxied calls open, the most allowed "
                "at once; retry when one has finished.",
                details={"limit": self.limit},
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self._open[client_id] = open_calls + 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                left = self._open[client_id] - 1
                if left:
                    self._open[client_id] = left
                else:
                    del self._open[client_id]

        return release


async def idle_limited(source: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """``source``, ended with ``ProxyBodyStalled`` when a chunk takes longer than ``seconds``."""
    chunks = aiter(source)
    while True:
        try:
            async with asyncio.timeout(seconds):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ProxyBodyStalled(
                f"The request body stalled: no data for {seconds:g} seconds, so the proxied "
                "call was aborted.",
                details={"idle_seconds": seconds},
            ) from None
        yield chunk
