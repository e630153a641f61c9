"""The OAuth token broker: one Walmart token call per credential per token lifetime.

Tokens are cached in process memory and, sealed, in the ``oauth_tokens`` table that every
replica shares. A token is refreshed once it has under ``VAULT_TOKEN_REFRESH_MARGIN_SECONDS``
left, or under half its lifetime when that is shorter (a margin longer than the lifetime
would fetch a token on every request). Refreshes are single-flight at two levels:

- in a process, an ``asyncio.Lock`` per credential;
- across replicas on PostgreSQL, a transaction-scoped advisory lock per credential. A replica
  that still holds a valid token only *tries* the lock and keeps serving its token if someone
  else is refreshing; one that has no valid token waits for the lock and then re-reads the
  row, finding the token the winner stored. (SQLite serves one process, so the process lock
  is enough there.)

If a refresh fails while the old token is still valid, the old token keeps being served, and
the next token call waits out a backoff (``app.walmart.backoff``); failures answered
meanwhile say, as ``retry_after``, when the backoff ends.

App Store connections (kind ``app_oauth``) get their tokens from ``RefreshGrants`` (the
``refresh_token`` grant) under the same locks. A refresh token Walmart rotates is stored at
once, in a transaction of its own, before the broker's transaction stores the access token
(``app.connections.rotated_tokens``); the access token is handed to no one before that
transaction commits, so a crash before the commit loses an answer nobody used.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.db import transaction, utcnow
from app.errors import ReconnectRequired
from app.keys.keystore import KeyStore
from app.keys.snapshot import CredentialSnapshot
from app.ops.metrics import TOKEN_CACHE_HITS, TOKEN_FETCHES
from app.walmart.backoff import Backoffs
from app.walmart.cached_token import MAX_TOKEN_SECONDS, CachedToken
from app.walmart.client import TokenGrant, WalmartClient
from app.walmart.outcomes import WalmartFailure, failure_from_exception
from app.walmart.repository import OAuthTokenRepository

LOCK_POLL_SECONDS = 0.02


class RefreshGrants(Protocol):
    """Access tokens of ``app_oauth`` credentials, from their sealed refresh tokens."""

    async def refresh(
        self, session: AsyncSession, snapshot: CredentialSnapshot, caller: Caller | None
    ) -> TokenGrant: ...


class TokenBroker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        keystore: KeyStore,
        walmart: WalmartClient,
        *,
        base_url_for: dict[str, str],
        refresh_margin: float,
        timeout: float,
        shared_locks: bool,
        refresh_grants: RefreshGrants | None = None,
        max_tokens: int,
        wall: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessionmaker = sessionmaker
        # The clocks are parameters: token lifetimes and backoffs are tested without waiting.
        self.wall = wall
        self.monotonic = monotonic
        self.keystore = keystore
        self.walmart = walmart
        self.base_url_for = base_url_for
        self.refresh_margin = timedelta(seconds=refresh_margin)
        self.timeout = timeout
        self.shared_locks = shared_locks
        self.refresh_grants = refresh_grants
        # Decrypted tokens: bounded in count, and in time by a token's longest life (Walmart's
        # are 900 s), so a token nobody asks for again does not stay in memory.
        self._memory: TTLCache[uuid.UUID, CachedToken] = TTLCache(
            maxsize=max_tokens, ttl=MAX_TOKEN_SECONDS, timer=self._now
        )
        # A lock lives while a refresh holds or awaits it, then goes with its last reference.
        self._locks: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._backoffs = Backoffs(max_tokens, timer=self._now)

    def _now(self) -> float:
        # Through the attribute, so the caches' expiry follows a clock a test moves on.
        return self.monotonic()

    def _fresh_in_memory(self, snapshot: CredentialSnapshot) -> CachedToken | None:
        cached = self._memory.get(snapshot.id)
        if cached is None or cached.version != snapshot.version:
            return None
        # Another replica refreshed or invalidated the shared token after we cached ours.
        if (
            cached.fetched_at != snapshot.token_fetched_at
            and cached.fetched_at < snapshot.loaded_wall
        ):
            return None
        return cached

    async def token(self, snapshot: CredentialSnapshot, *, caller: Caller | None) -> CachedToken:
        cached = self._fresh_in_memory(snapshot)
        if cached is not None and cached.fresh(self.wall(), self.refresh_margin):
            TOKEN_CACHE_HITS.labels("memory").inc()
            return cached
        lock = self._locks.get(snapshot.id)
        if lock is None:
            lock = self._locks[snapshot.id] = asyncio.Lock()
        if lock.locked() and cached is not None and cached.usable(self.wall()):
            return cached  # a refresh is under way here; the current token still works
        async with lock:
            cached = self._fresh_in_memory(snapshot)
            if cached is not None and cached.fresh(self.wall(), self.refresh_margin):
                return cached
            backoff = self._backoffs.active(snapshot.id)
            if backoff is not None:
                # Walmart failed us moments ago: do not call it again before the backoff ends.
                if cached is not None and cached.usable(self.wall()):
                    return cached
                raise backoff.answer(self.monotonic())
            return await self._refresh(snapshot, cached, caller)

    async def _refresh(
        self, snapshot: CredentialSnapshot, cached: CachedToken | None, caller: Caller | None
    ) -> CachedToken:
        usable = cached if cached is not None and cached.usable(self.wall()) else None
        async with transaction(self.sessionmaker) as session:
            if self.shared_locks and not await self._lock(
                session, snapshot.id, wait=usable is None
            ):
                assert usable is not None  # noqa: S101  (only a non-waiting lock can fail)
                return usable
            stored = await self._stored(session, snapshot)
            if stored is not None:
                if stored.fresh(self.wall(), self.refresh_margin):
                    TOKEN_CACHE_HITS.labels("database").inc()
                    return self._remember(snapshot.id, stored)
                usable = stored if stored.usable(self.wall()) else usable
            try:
                grant = await self._fetch(session, snapshot, caller)
            except ReconnectRequired:
                self.forget(snapshot.id)  # the seller revoked it: its access token goes too
                raise
            except WalmartFailure as failure:
                TOKEN_FETCHES.labels(failure.outcome).inc()
                backoff = self._backoffs.failed(snapshot.id, failure)
                if usable is not None:
                    # Kept in memory, so requests during the backoff are served it as well.
                    return self._remember(snapshot.id, usable)
                raise backoff.answer(self.monotonic()) from None
            TOKEN_FETCHES.labels("valid").inc()
            self._backoffs.succeeded(snapshot.id)
            fresh = await self._store(session, snapshot, grant)
            record(
                session,
                action="token.fetched",
                caller=caller,
                account_id=snapshot.account_id,
                credential_id=snapshot.id,
                version=snapshot.version,
                details={"correlation_id": grant.correlation_id, "expires_in": grant.expires_in},
            )
        return self._remember(snapshot.id, fresh)

    async def _lock(self, session: AsyncSession, credential_id: uuid.UUID, *, wait: bool) -> bool:
        """Take the credential's advisory lock; when waiting, poll so no statement outlives the
        database timeout and the wait ends with the Walmart time budget."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            if await OAuthTokenRepository(session).try_refresh_lock(credential_id):
                return True
            if not wait:
                return False
            if asyncio.get_running_loop().time() > deadline:
                raise WalmartFailure(
                    "timeout", "Another replica's token refresh did not finish in time."
                )
            await asyncio.sleep(LOCK_POLL_SECONDS)

    async def _stored(
        self, session: AsyncSession, snapshot: CredentialSnapshot
    ) -> CachedToken | None:
        row = await OAuthTokenRepository(session).get(snapshot.id)
        if row is None or row.version != snapshot.version:
            return None
        token = await self.keystore.open_token(snapshot, row.sealed_token)
        return CachedToken(row.version, token, row.expires_at, row.fetched_at)

    async def _fetch(
        self, session: AsyncSession, snapshot: CredentialSnapshot, caller: Caller | None
    ) -> TokenGrant:
        if snapshot.kind == "app_oauth" and self.refresh_grants is not None:
            # Its Walmart call keeps the same budget; its database work keeps the database's.
            return await self.refresh_grants.refresh(session, snapshot, caller)
        secret = (await self.keystore.open_secret(snapshot)).decode()
        try:
            async with asyncio.timeout(self.timeout):
                return await self.walmart.request_token(
                    base_url=self.base_url_for[snapshot.environment],
                    client_id=snapshot.public_id,
                    client_secret=secret,
                    market=snapshot.market,
                    channel_type=snapshot.channel_type,
                )
        except TimeoutError as exc:
            raise failure_from_exception(exc, None) from None

    async def store_grant(
        self, session: AsyncSession, snapshot: CredentialSnapshot, grant: TokenGrant
    ) -> None:
        """Keep a token obtained elsewhere (a live test) in the caller's transaction, so the
        next headers call reuses it instead of making another token call."""
        self._remember(snapshot.id, await self._store(session, snapshot, grant))

    async def _store(
        self, session: AsyncSession, snapshot: CredentialSnapshot, grant: TokenGrant
    ) -> CachedToken:
        now = self.wall()
        expires_at = now + timedelta(seconds=grant.expires_in)
        sealed = await self.keystore.seal_token(snapshot, grant.access_token)
        await OAuthTokenRepository(session).put(
            snapshot.id,
            version=snapshot.version,
            sealed_token=sealed,
            expires_at=expires_at,
            fetched_at=now,
        )
        return CachedToken(snapshot.version, grant.access_token, expires_at, now)

    def _remember(self, credential_id: uuid.UUID, token: CachedToken) -> CachedToken:
        self._memory[credential_id] = token
        return token

    async def invalidate(self, session: AsyncSession, credential_id: uuid.UUID) -> None:
        """Drop the shared and the local token; the next headers call fetches a new one."""
        await OAuthTokenRepository(session).delete(credential_id)

    def forget(self, credential_id: uuid.UUID) -> None:
        self._memory.pop(credential_id, None)
