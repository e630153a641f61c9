"""The readiness probe's KEK round trip, done at most once every few seconds.

``/readyz`` is unauthenticated and orchestrators call it often; each round trip is a wrap and
an unwrap at the KEK provider, so with AWS KMS ten probes were twenty billed KMS calls. A good
verdict is reused for ``KEK_CHECK_CACHE_SECONDS``, and probes that arrive while a check runs
wait for that one instead of starting their own. A bad verdict is not kept: once the provider
answers again, the next probe says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.crypto import Envelope, EnvelopeError

KEK_CHECK_CACHE_SECONDS = 5.0
# An orchestrator's probe must get an answer even from a KEK service that hangs.
PROBE_TIMEOUT_SECONDS = 3.0


class KekProbe:
    def __init__(
        self,
        *,
        max_age: float = KEK_CHECK_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age
        self._clock = clock
        self._healthy_at: float | None = None
        self._running: asyncio.Future[bool] | None = None
        self._closed = False

    async def healthy(self, envelope: Envelope) -> bool:
        """Whether the active KEK wrapped and unwrapped a throwaway key lately (never once
        the app is stopping: a probe then must not reach a KEK client being closed)."""
        if self._closed:
            return False
        if self._healthy_at is not None and self._clock() - self._healthy_at < self._max_age:
            return True
        if self._running is None:
            self._running = asyncio.ensure_future(self._check(envelope))
        running = self._running
        try:
            # Shielded: a probe that gives up does not cancel the check the others wait for.
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if running.cancelled() and task is not None and not task.cancelling():
                return False  # the check was cancelled by ``aclose``, not this probe
            raise

    async def aclose(self) -> None:
        """Cancel a check still running: at shutdown it would reach a KEK client being closed."""
        self._closed = True
        if (running := self._running) is not None:
            running.cancel()
            await asyncio.wait([running])

    async def _check(self, envelope: Envelope) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                await envelope.self_check()
            healthy = True
        except (EnvelopeError, TimeoutError):
            healthy = False
        finally:
            self._running = None
        self._healthy_at = self._clock() if healthy else None
        return healthy
