"""One skeleton for the vault's background jobs: a pass every ``interval`` seconds, in a task of
its own, until the lifespan stops it.

``PeriodicTask`` owns the loop (start a task, wait, run, catch, log, stop); a job owns only
its pass. A pass that raises is logged
(its error code or exception type, never the message, which may quote a statement's
parameters) and the next pass runs on schedule: a background job never stops on its own.

``stop`` either cancels a pass under way (``interrupt=True``: a drift pass may test thousands of
credentials against Walmart) or waits for it (``interrupt=False``: a flush cancelled half-way
loses what it had taken from its buffer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from app.db import DATABASE_UNAVAILABLE
from app.errors import VaultError

# Its own generator: jitter must not move the process-wide random state, which code sharing
# the process may have seeded or be watching (Hypothesis flags any change during a draw).
JITTER = random.Random()  # noqa: S311  (spreading load, not security)


class PeriodicTask:
    def __init__(
        self,
        name: str,
        run: Callable[[], Awaitable[object]],
        *,
        interval: float,
        log: logging.Logger,
        log_as: str,
        jitter: float = 0.0,
        run_at_start: bool = False,
        again_if_busy: bool = False,
        interrupt: bool = True,
    ) -> None:
        """``run`` is one pass; ``interval`` <= 0 turns the job off. ``jitter`` spreads each
        wait by that fraction either way, so replicas (and restarts) do not act in step.
        With ``again_if_busy`` a pass that returns a true value (it found work) is followed
        at once by the next; otherwise the next waits ``interval`` or a ``wake``."""
        self.name = name
        self.interval = interval
        self._run = run
        self._log = log
        self._log_as = log_as
        self._jitter = jitter
        self._run_at_start = run_at_start
        self._again_if_busy = again_if_busy
        self._interrupt = interrupt
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self.interval <= 0 or self._task is not None:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=self.name)

    def wake(self) -> None:
        """Run the next pass now instead of at the end of the wait."""
        self._wakeup.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        if self._interrupt:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _loop(self) -> None:
        if not self._run_at_start:
            await self._wait()
        while not self._stopping:
            # Cleared before the pass: a wake that arrives during it asks for one more.
            self._wakeup.clear()
            busy = await self._pass()
            if not (busy and self._again_if_busy):
                await self._wait()

    async def _wait(self) -> None:
        spread = JITTER.uniform(1 - self._jitter, 1 + self._jitter) if self._jitter else 1.0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.interval * spread):
                await self._wakeup.wait()

    async def _pass(self) -> object:
        try:
            return await self._run()
        except (VaultError, *DATABASE_UNAVAILABLE) as exc:  # an outage: the next pass retries
            error = exc.code if isinstance(exc, VaultError) else type(exc).__name__
            self._log.warning(f"{self._log_as} failed", extra={"job": self.name, "error": error})
        except Exception as exc:  # a bug: said loudly, and the job goes on
            self._log.error(
                f"{self._log_as} failed unexpectedly",
                extra={"job": self.name, "error": type(exc).__name__},
            )
        return None
