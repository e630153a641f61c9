"""One load per key at a time: concurrent misses for the same key share one database read.

Without it, when a hot entry expires every request in flight misses together (32 at once at
the benchmark's concurrency), each opening its own connection for the same row.
``refresh_ahead`` begins (or joins) a load without waiting for it: a cache refreshes an entry
ahead of its expiry that way, while requests go on using the entry they have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from app.errors import DatabaseUnavailable

T = TypeVar("T")


class ShuttingDown(DatabaseUnavailable):
    """A load asked for once ``aclose`` has begun: answered as any read at shutdown is."""

    def __init__(self) -> None:
        super().__init__("The vault is shutting down; try again.")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._loading: dict[Hashable, asyncio.Future[T]] = {}
        # Every load still running, the discarded ones too: shutdown ends them all.
        self._running: set[asyncio.Future[T]] = set()
        self._closed = False

    def start(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        pending = self._loading.get(key)
        if pending is None:
            if self._closed:  # a request outliving the server's drain
                raise ShuttingDown()
            pending = asyncio.ensure_future(load())
            self._loading[key] = pending
            self._running.add(pending)
            pending.add_done_callback(lambda done: self._finished(key, done))
        return pending

    @property
    def closed(self) -> bool:
        return self._closed

    def refresh_ahead(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> None:
        """Begin (or join) a load nobody waits for: best effort, so once closed it starts
        nothing, and the entry the caller holds is still good."""
        if not self._closed:
            self.start(key, load)

    async def run(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        pending = self.start(key, load)
        try:
            # Shielded: a waiter that gives up does not cancel the load the others wait for.
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if pending.cancelled() and task is not None and not task.cancelling():
                # The load was ended by ``aclose``, not this waiter: its request is answered
                # as any read at shutdown is, instead of failing with a cancellation.
                raise ShuttingDown() from None
            raise

    def discard(self, key: Hashable | None = None) -> None:
        """Later callers start a fresh load instead of joining one already running (for
        ``key``, or every key): what it reads may predate a change just announced."""
        if key is None:
            self._loading.clear()
        else:
            self._loading.pop(key, None)

    def _finished(self, key: Hashable, done: asyncio.Future[T]) -> None:
        self._running.discard(done)
        if self._loading.get(key) is done:
            del self._loading[key]
        if not done.cancelled():
            # Marked as seen: a load nobody waited for (a refresh ahead) may fail quietly;
            # the entry then expires and the next request's own load reports the failure.
            done.exception()

    async def aclose(self) -> None:
        """Cancel loads still running (shutdown), discarded ones included, and start no more:
        a load must not outlive the app whose database pool and clients it uses."""
        self._closed = True
        self._loading.clear()
        pending = list(self._running)
        for future in pending:
            future.cancel()
        if pending:
            # Waits without raising the loads' own errors (a cancel of this wait is not
            # swallowed).
            await asyncio.wait(pending)
