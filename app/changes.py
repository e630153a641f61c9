"""Telling every replica that a credential or an API client changed, so none acts on a stale
key, token or caller.

Writers call ``notify_change`` inside the transaction that changes a credential (rotation,
edit, disable, delete, token invalidation) and ``notify_client_change`` in the one that
revokes a client; PostgreSQL delivers ``NOTIFY`` on commit to every replica's
``ChangeListener``, which drops its caches for that credential or client at once. If the
listening connection is lost, the snapshot recheck (``VAULT_CACHE_MAX_STALENESS_SECONDS``)
still bounds staleness while the listener reconnects. SQLite serves one process, so there is
nobody to tell.

The listener also vouches for what the caches read while it listens, so they need not re-read
it every bound: an entry read on the current listening connection stays trusted while that
connection has answered a ping started less than the bound ago. A ping's answer comes after
every notification committed before it was sent (PostgreSQL sends pending notifications before
it reports a command done, ReadyForQuery), so a change whose notification was lost (a
silently dead connection) is still seen within the bound: by then the pings have failed or
lapsed and the entry is rechecked like any other. See ``ChangeWatch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("vault.invalidation")

CHANNEL = "vault_credential_changes"
APPLICATION_NAME = "vault-change-listener"  # how its connection shows in pg_stat_activity


async def notify_change(session: AsyncSession, credential_id: uuid.UUID) -> None:
    await _notify(session, f"credential:{credential_id}")


async def notify_changes(session: AsyncSession, credential_ids: Sequence[uuid.UUID]) -> None:
    """``notify_change`` for many credentials in one statement (a bulk import's batch)."""
    if credential_ids and session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text(
                "SELECT pg_notify(:channel, 'credential:' || id) "
                "FROM unnest(CAST(:ids AS text[])) AS id"
            ),
            {"channel": CHANNEL, "ids": [str(i) for i in credential_ids]},
        )


async def notify_client_change(session: AsyncSession, client_id: uuid.UUID) -> None:
    await _notify(session, f"client:{client_id}")


async def _notify(session: AsyncSession, payload: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )


class ChangeWatch(Protocol):
    """What a cache asks before trusting an entry past its staleness bound."""

    def epoch(self) -> int:
        """The listening connection now (0: none); a cache notes it before each read."""

    def vouches_for(self, epoch: int) -> bool:
        """Whether every change since a read made under ``epoch`` would have been announced."""


class NotListening:
    """SQLite, or no listener: nothing is vouched for, entries live by the bound alone."""

    def epoch(self) -> int:
        return 0

    def vouches_for(self, epoch: int) -> bool:
        return False


NOT_LISTENING = NotListening()


class ChangeListener:
    def __init__(
        self,
        database_url: str,
        *,
        on_credential: Callable[[uuid.UUID], None],
        on_client: Callable[[uuid.UUID], None],
        max_staleness: float,
        reconnect_seconds: float = 1.0,
    ) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.handlers = {"credential": on_credential, "client": on_client}
        self.max_staleness = max_staleness
        self.reconnect_seconds = reconnect_seconds
        # Four pings per bound: one lost or slow ping does not yet end the trust. (A bound
        # below 0.2 s still pings at most 20 times a second: entries then live by the bound.)
        self.ping_seconds = max(min(max_staleness / 4, reconnect_seconds * 5), 0.05)
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connections = 0
        self._epoch = 0  # the listening connection's number, 0 while there is none
        self._heard_until = -math.inf  # every change committed before it has been delivered

    def epoch(self) -> int:
        return self._epoch

    def vouches_for(self, epoch: int) -> bool:
        return (
            epoch != 0
            and epoch == self._epoch
            and time.monotonic() - self._heard_until < self.max_staleness
        )

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
            self.connected.set()
            # Pinged: a silently dead connection never reports its termination, and each
            # answer proves the notifications committed before the ping have arrived.
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=self.ping_seconds)
                if not lost.is_set():
                    asked = time.monotonic()
                    await connection.fetchval("SELECT 1", timeout=max(self.ping_seconds, 1.0))
                    self._heard_until = asked
        finally:
            self._epoch = 0
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        kind, _, value = payload.partition(":")
        handler = self.handlers.get(kind)
        try:
            changed = uuid.UUID(value)
        except ValueError:
            return
        if handler is not None:
            handler(changed)
