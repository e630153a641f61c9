"""The readiness probe's KEK round trip, done at most once every few seconds.

``/readyz`` is unauthenticated and orchestrators call it often; each round trip is a wrap and
an unwrap at the KEK provider, so with AWS KMS ten probes were twenty billed KMS calls. A good
verdict is reused for ``KEK_CHECK_CACHE_SECONDS``, and probes that arrive while a check runs
wait for that one instead of starting their own. A bad verdict is kept only a second: once the
provider answers again, a probe soon says so, while a storm of probes against a failing
provider (throttled, say) costs it at most one round trip a second per worker.

A probe gives up on a hanging provider after ``PROBE_TIMEOUT_SECONDS``, but the round trip
itself is left to finish (an AWS KMS call runs on in its thread even when its task is
cancelled, for up to its own timeouts): later checks wait for it rather than start another,
so a slow provider never has more than one probe's round trip per worker.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

from app.crypto import Envelope, EnvelopeError
from app.single_flight import ShuttingDown, SingleFlight

KEK_CHECK_CACHE_SECONDS = 5.0
FAILED_CHECK_SECONDS = 1.0
# An orchestrator's probe must get an answer even from a KEK service that hangs.
PROBE_TIMEOUT_SECONDS = 3.0
CHECK = "kek"  # the probe's one load: probes that arrive while it runs share it


class KekProbe:
    def __init__(
        self,
        *,
        max_age: float = KEK_CHECK_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age
        self._clock = clock
        self._verdict: tuple[bool, float] | None = None  # the last check's, and when
        self._checks: SingleFlight[bool] = SingleFlight()  # the one check probes wait for
        self._round_trip: asyncio.Future[None] | None = None  # may outlive its check

    async def healthy(self, envelope: Envelope) -> bool:
        """Whether the active KEK wrapped and unwrapped a throwaway key lately (never once
        the app is stopping: a probe then must not reach a KEK client being closed)."""
        if self._checks.closed:
            return False
        if self._verdict is not None:
            healthy, at = self._verdict
            if self._clock() - at < (self._max_age if healthy else FAILED_CHECK_SECONDS):
                return healthy
        try:
            return await self._checks.run(CHECK, functools.partial(self._check, envelope))
        except ShuttingDown:  # the check was ended by ``aclose``
            return False

    async def aclose(self) -> None:
        """End the check and the round trip still running, and start no more: at shutdown
        they would reach a KEK client being closed (an AWS KMS call already in its thread runs
        on to its own timeout all the same; its answer is dropped)."""
        await self._checks.aclose()
        if (round_trip := self._round_trip) is not None:
            round_trip.cancel()
            await asyncio.wait([round_trip])

    async def _check(self, envelope: Envelope) -> bool:
        if self._round_trip is None:
            self._round_trip = asyncio.ensure_future(envelope.self_check())
            self._round_trip.add_done_callback(self._round_trip_done)
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                await asyncio.shield(self._round_trip)
            healthy = True
        except (EnvelopeError, TimeoutError):
            healthy = False
        self._verdict = (healthy, self._clock())
        return healthy

    def _round_trip_done(self, done: asyncio.Future[None]) -> None:
        if self._round_trip is done:
            self._round_trip = None
        if not done.cancelled():
            done.exception()  # seen: one that ended after its check gave up fails quietly
