"""The PostgreSQL side: one listening connection per process, ``LISTEN``ing on the channel the
triggers ``NOTIFY``, and pinged so that it can vouch for what the caches read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.changes.feed import ChangeFeed

log = logging.getLogger("vault.invalidation")

CHANNEL = "vault_credential_changes"
APPLICATION_NAME = "vault-change-listener"  # how its connection shows in pg_stat_activity
KEPT_EPOCHS = 4  # listening connections whose last ping still counts for the outage grace


class ChangeListener:
    def __init__(
        self,
        database_url: str,
        *,
        feed: ChangeFeed,
        max_staleness: float,
        reconnect_seconds: float = 1.0,
    ) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.feed = feed
        self.max_staleness = max_staleness
        self.reconnect_seconds = reconnect_seconds
        # Four pings per bound: one lost or slow ping does not yet end the trust. (A bound
        # below 0.2 s still pings at most 20 times a second: entries then live by the bound.)
        self.ping_seconds = max(min(max_staleness / 4, reconnect_seconds * 5), 0.05)
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connections = 0
        self._epoch = 0  # the listening connection's number, 0 while there is none
        # Per listening connection (the last few, kept once lost: what they heard still
        # counts during an outage): the moment up to which every change had been delivered.
        self._heard: dict[int, float] = {}
        self._heard_until = -math.inf  # every change committed before it has been delivered
        self._pinged = asyncio.Event()  # set by the next ping's answer

    def epoch(self) -> int:
        return self._epoch

    def confirmed_at(self, epoch: int) -> float:
        return self._heard.get(epoch, -math.inf)

    def vouches_for(self, epoch: int) -> bool:
        return (
            epoch != 0
            and epoch == self._epoch
            and time.monotonic() - self._heard_until < self.max_staleness
        )

    async def caught_up(self) -> None:
        """Return once every change committed before the call has been delivered: the
        next ping asked after it has been answered."""
        asked = time.monotonic()
        while self._heard_until < asked:
            await self._pinged.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("change listener lost its connection: %s", type(exc).__name__)
            except Exception:  # a bug must not end listening for the process's lifetime
                log.exception("change listener failed; listening again")
            self.connected.clear()
            await asyncio.sleep(self.reconnect_seconds)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(
            self.dsn, timeout=5, server_settings={"application_name": APPLICATION_NAME}
        )
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _c: lost.set())
            # Reads made after LISTEN see every earlier commit, and every later one is
            # announced on this connection while it lives.
            listening_from = time.monotonic()
            await connection.add_listener(CHANNEL, self._notified)
            self._connections += 1
            self._epoch, self._heard_until = self._connections, listening_from
            self._heard[self._epoch] = listening_from
            for old in [e for e in self._heard if e <= self._epoch - KEPT_EPOCHS]:
                del self._heard[old]
            self.connected.set()
            # Pinged: a silently dead connection never reports its termination, and each
            # answer proves the notifications committed before the ping have arrived.
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=self.ping_seconds)
                if not lost.is_set():
                    asked = time.monotonic()
                    await connection.fetchval("SELECT 1", timeout=max(self.ping_seconds, 1.0))
                    self._heard_until = self._heard[self._epoch] = asked
                    self._pinged.set()
                    self._pinged = asyncio.Event()
        finally:
            self._epoch = 0
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.feed.announce_payload(payload)
