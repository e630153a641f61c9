"""Telling every replica that a credential or an API client changed, so none acts on a stale
key, token or caller.

Writers call ``notify_change`` inside the transaction that changes a credential (rotation,
edit, disable, delete, token invalidation) and ``notify_client_change`` in the one that
revokes a client; PostgreSQL delivers ``NOTIFY`` on commit to every replica's
``ChangeListener``, which drops its caches for that credential or client at once. If the
listening connection is lost, the snapshot recheck (``VAULT_CACHE_MAX_STALENESS_SECONDS``)
still bounds staleness while the listener reconnects. SQLite serves one process, so there is
nobody to tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("vault.invalidation")

CHANNEL = "vault_credential_changes"


async def notify_change(session: AsyncSession, credential_id: uuid.UUID) -> None:
    await _notify(session, f"credential:{credential_id}")


async def notify_client_change(session: AsyncSession, client_id: uuid.UUID) -> None:
    await _notify(session, f"client:{client_id}")


async def _notify(session: AsyncSession, payload: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )


class ChangeListener:
    def __init__(
        self,
        database_url: str,
        *,
        on_credential: Callable[[uuid.UUID], None],
        on_client: Callable[[uuid.UUID], None],
        reconnect_seconds: float = 1.0,
    ) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.handlers = {"credential": on_credential, "client": on_client}
        self.reconnect_seconds = reconnect_seconds
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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
            self.connected.clear()
            await asyncio.sleep(self.reconnect_seconds)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=5)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _c: lost.set())
            await connection.add_listener(CHANNEL, self._notified)
            self.connected.set()
            # Poll too: a silently dead connection never reports its termination.
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=self.reconnect_seconds * 5)
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=5)
        finally:
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
