"""Who holds a bearer token, answered from memory on the hot path.

An entry (token hash -> caller) is trusted for at most ``VAULT_CACHE_MAX_STALENESS_SECONDS``.
A change to a client's cached columns (revoked, re-keyed, scopes, accounts, name), by any
path, is announced by the database and drops its entries on every replica
(``app.changes``); the recheck bounds it when announcements are unavailable (SQLite beside
``vault-admin``, a lost connection), and is skipped while the change listener vouches for an
entry (``app.changes.ChangeWatch``). While the database is unreachable an entry is served up
to ``VAULT_CACHE_OUTAGE_GRACE_SECONDS`` past the bound. Unknown tokens are never cached, so a
flood of bad tokens costs indexed reads, not memory.

Last-use stamps are kept in memory and written by ``flush_usage``, at most once a minute per
client, so a read-only request never writes to the database.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import Caller
from app.background import PeriodicTask
from app.changes import NOT_LISTENING, ChangeWatch
from app.clients.repository import ApiClientRepository
from app.crypto import hash_token
from app.db import transaction, utcnow
from app.errors import DatabaseUnavailable, Unauthenticated
from app.freshness import Freshness, FreshnessCache

LAST_USED_RESOLUTION = timedelta(minutes=1)
# Issued tokens are 47 characters and a bootstrap token is operator-chosen; nothing longer
# than this is worth hashing.
MAX_TOKEN_LENGTH = 512
USAGE_FLUSH_SECONDS = 10.0
log = logging.getLogger("vault.clients")


@dataclass(slots=True)
class _Entry:
    caller: Caller
    last_used: datetime | None


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("Send the API client's token as 'Authorization: Bearer <token>'.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Send the API client's token as 'Authorization: Bearer <token>'.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("The bearer token is unknown or has been revoked.")
    return token


class CallerDirectory:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_staleness: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        watch: ChangeWatch = NOT_LISTENING,
        outage_grace: float = 0.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        rule = Freshness(max_staleness, outage_grace, watch, clock)
        self._entries: FreshnessCache[str, _Entry] = FreshnessCache(
            self._load, rule, max_entries=max_entries
        )
        self._used: dict[uuid.UUID, datetime] = {}
        # Not interrupted on stop: a cancel inside a flush would lose the stamps it had taken.
        self._usage = PeriodicTask(
            "client-usage",
            self.flush_usage,
            interval=USAGE_FLUSH_SECONDS,
            log=log,
            log_as="last-use flush",
            interrupt=False,
        )

    async def authenticate(self, authorization: str | None, request_id: str | None) -> Caller:
        """The caller behind an ``Authorization: Bearer`` header, or ``Unauthenticated``."""
        entry = await self._entries.get(hash_token(bearer_token(authorization)))
        if entry is None:
            raise Unauthenticated("The bearer token is unknown or has been revoked.")
        self._note_use(entry)
        return replace(entry.caller, request_id=request_id)

    def _note_use(self, entry: _Entry) -> None:
        now = utcnow()
        client_id = entry.caller.client_id
        if client_id is not None and (
            entry.last_used is None or now - entry.last_used > LAST_USED_RESOLUTION
        ):
            entry.last_used = self._used[client_id] = now

    async def _load(self, digest: str) -> _Entry | None:
        async with transaction(self.sessionmaker) as session:
            client = await ApiClientRepository(session).by_token_hash(digest)
        if client is None or client.revoked_at is not None:
            return None  # unknown or revoked: never kept
        caller = Caller(
            client_id=client.id,
            name=client.name,
            scopes=frozenset(client.scopes),
            account_ids=frozenset(client.account_ids) if client.account_ids is not None else None,
        )
        return _Entry(caller, client.last_used_at)

    def forget_client(self, client_id: uuid.UUID) -> None:
        """A change to the client was announced: drop every token of it this worker holds."""
        self._entries.forget_where(lambda entry: entry.caller.client_id == client_id)

    async def flush_usage(self) -> None:
        if not self._used:
            return
        used, self._used = self._used, {}
        try:
            async with transaction(self.sessionmaker) as session:
                repo = ApiClientRepository(session)
                for client_id, at in used.items():
                    await repo.stamp_last_used(client_id, at)
        except DatabaseUnavailable:
            self._used = used | self._used  # kept for the next tick

    def start(self) -> None:
        self._usage.start()

    async def stop(self) -> None:
        await self._usage.stop()
        await self._entries.aclose()
        await self.flush_usage()
