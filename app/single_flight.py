"""One load per key at a time: concurrent misses for the same key share one database read.

Without it, when a hot entry expires every request in flight misses together (32 at once at
the benchmark's concurrency), each opening its own connection for the same row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._loading: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(load())
            self._loading[key] = pending
            pending.add_done_callback(lambda _done: self._loading.pop(key, None))
        # Shielded: a waiter that gives up does not cancel the load the others wait for.
        return await asyncio.shield(pending)
