"""How a change reaches every cache that depends on it, on every replica.

The database announces it. A migration (``2026-11-29-2210_announce_changes``) puts triggers on
the tables that caches depend on (``credentials``, ``credential_versions``, ``oauth_tokens``,
and ``api_clients`` for the columns callers are cached by, so a last-used stamp announces
nothing); on commit, PostgreSQL delivers ``NOTIFY vault_credential_changes,
'credential:<id>'`` or ``'client:<id>'`` to every replica's ``ChangeListener``. So a change made
by any path (the API, the CLI, a migration, SQL typed by hand) is announced, and no writer has
to remember to. The process that commits a change also announces it to itself at commit
(``announce_commits``, from what its session flushed), so its own next request never sees the
old entry, before the notification comes back; SQLite, which serves one process, has only
that. Every announcement goes to one place, ``ChangeFeed``, which drops what the caches hold.

The listener also vouches for what the caches read while it listens, so they need not re-read
it every bound: an entry read on the current listening connection stays trusted while that
connection has answered a ping started less than ``VAULT_CACHE_MAX_STALENESS_SECONDS`` ago. A
ping's answer comes after every notification committed before it was sent (PostgreSQL sends
pending notifications before it reports a command done, ReadyForQuery), so a change whose
notification was lost (a silently dead connection) is still seen within the bound: by then the
pings have failed or lapsed and the entry is rechecked like any other. See ``ChangeWatch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg
from sqlalchemy import event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

log = logging.getLogger("vault.invalidation")

CHANNEL = "vault_credential_changes"
APPLICATION_NAME = "vault-change-listener"  # how its connection shows in pg_stat_activity
KEPT_EPOCHS = 4  # listening connections whose last ping still counts for the outage grace


# What each table's changes mean to the caches: (kind announced, column naming the id, the
# columns that matter: None for all). The migration's triggers follow the same table.
WATCHED: dict[str, tuple[str, str, frozenset[str] | None]] = {
    "credentials": ("credential", "id", None),
    "credential_versions": ("credential", "credential_id", None),
    "oauth_tokens": ("credential", "credential_id", None),
    "api_clients": (
        "client",
        "id",
        frozenset({"token_hash", "revoked_at", "scopes", "account_ids", "name"}),
    ),
}
_PENDING = "vault_announced_changes"  # in a session's ``info``: what its transaction changed


class ChangeFeed:
    """The one place that reacts to a change: it calls the handler of the change's kind."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[uuid.UUID], None]] = {}

    def on(self, kind: str, handler: Callable[[uuid.UUID], None]) -> None:
        self.handlers[kind] = handler

    def announce(self, kind: str, changed: uuid.UUID) -> None:
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(changed)

    def announce_payload(self, payload: str) -> None:
        """A notification's payload, ``kind:uuid``; anything else is ignored."""
        kind, _, value = payload.partition(":")
        try:
            changed = uuid.UUID(value)
        except ValueError:
            return
        self.announce(kind, changed)


def announce_commits(sessionmaker: async_sessionmaker[AsyncSession], feed: ChangeFeed) -> None:
    """Announce to ``feed`` what each committed session of ``sessionmaker`` changed in the
    watched tables (ORM writes: bulk statements on those tables are not seen here)."""
    # A session class of its own: several apps in one process (tests) each have their feed.
    announcing: type[Session] = type("AnnouncingSession", (Session,), {})
    sessionmaker.configure(sync_session_class=announcing)

    def flushed(session: Session, _context: object) -> None:
        pending: set[tuple[str, uuid.UUID]] = session.info.setdefault(_PENDING, set())
        for instance, dirty in _touched(session):
            watched = WATCHED.get(getattr(type(instance), "__tablename__", ""))
            if watched is None:
                continue
            kind, id_column, columns = watched
            state = inspect(instance)
            if (
                dirty
                and columns is not None
                and not any(state.attrs[name].history.has_changes() for name in columns)
            ):
                continue
            changed = getattr(instance, id_column)
            if isinstance(changed, uuid.UUID):
                pending.add((kind, changed))

    def committed(session: Session) -> None:
        for kind, changed in session.info.pop(_PENDING, set()):
            feed.announce(kind, changed)

    def rolled_back(session: Session) -> None:
        session.info.pop(_PENDING, None)

    event.listen(announcing, "after_flush", flushed)
    event.listen(announcing, "after_commit", committed)
    event.listen(announcing, "after_rollback", rolled_back)


def _touched(session: Session) -> list[tuple[object, bool]]:
    return [
        *((i, False) for i in session.new),
        *((i, True) for i in session.dirty),
        *((i, False) for i in session.deleted),
    ]


class ChangeWatch(Protocol):
    """What a cache asks before trusting an entry past its staleness bound."""

    def epoch(self) -> int:
        """The listening connection now (0: none); a cache notes it before each read."""

    def vouches_for(self, epoch: int) -> bool:
        """Whether every change since a read made under ``epoch`` would have been announced."""

    def confirmed_at(self, epoch: int) -> float:
        """The last moment (monotonic) up to which a read made under ``epoch`` is known to
        be current, as far as the listener can tell (-inf: it cannot)."""


class NotListening:
    """SQLite, or no listener: nothing is vouched for, entries live by the bound alone."""

    def epoch(self) -> int:
        return 0

    def vouches_for(self, epoch: int) -> bool:
        return False

    def confirmed_at(self, epoch: int) -> float:
        return -math.inf


NOT_LISTENING = NotListening()


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
