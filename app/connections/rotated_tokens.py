"""Refresh tokens Walmart rotated: stored at once, or held in memory until they can be.

Walmart does not document whether a refresh answer's new refresh token retires the old one at
once. If it does, losing the new one costs the seller a reconnect, so it must not share the
fate of the broker's transaction (a failed commit, a lock wait past the database timeout, the
KEK unreachable while sealing the access token). ``settle`` therefore stores it in a
transaction of its own, right after Walmart's answer, while the broker's refresh still holds
the credential's refresh lock: no other replica refreshes, so none sends the old token
meanwhile. That transaction needs a second database connection for a moment, and only when
Walmart rotates.

Should that store fail (the database away, the pool out of connections), the token is also
written in the broker's transaction, which may still commit, and held in this process's
memory: the next refresh of the credential here sends it and stores it. A held token gives way
as soon as it no longer supersedes the stored one (the broker's transaction stored it, or
another replica stored a newer one). What memory holds is lost with the process, and another
replica that refreshes before it is stored sends the old token: if Walmart retired that one,
the seller must connect again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.credentials.repository import CredentialRepository
from app.crypto import Envelope, EnvelopeError, hash_token
from app.db import transaction, utcnow
from app.errors import VaultError
from app.keys.binding import seal_secret
from app.keys.keystore import open_refresh_token

log = logging.getLogger("vault.connections")

# Walmart: "Refresh tokens remain valid for a year", when an answer does not say.
REFRESH_TOKEN_LIFETIME = timedelta(days=365)


@dataclass(frozen=True)
class Answered:
    """A refresh's outcome for the refresh token: the one stored, and the newest Walmart
    accepted or answered (the same when it did not rotate)."""

    version: int
    stored: str = field(repr=False)
    newest: str = field(repr=False)
    lifetime_seconds: float | None  # of ``newest``, when Walmart said
    correlation_id: str
    caller: Caller | None


@dataclass(frozen=True)
class RotatedToken:
    """A refresh token Walmart answered for one credential version, and what it replaces."""

    version: int
    token: str = field(repr=False)
    replaces_hash: str = field(repr=False)  # ``hash_token`` of the stored token it supersedes
    expires_at: datetime
    correlation_id: str
    caller: Caller | None  # who asked for the refresh: the audit event names them

    def supersedes(self, stored: str) -> bool:
        return self.replaces_hash == hash_token(stored)


@dataclass
class RotatedTokens:
    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope
    held: dict[uuid.UUID, RotatedToken] = field(default_factory=dict)

    def to_send(self, credential_id: uuid.UUID, version: int, stored: str) -> str:
        """The held token if it still supersedes the stored one, else the stored one."""
        held = self.held.get(credential_id)
        if held is None:
            return stored
        if held.version != version or not held.supersedes(stored):
            del self.held[credential_id]
            return stored
        return held.token

    def drop(self, credential_id: uuid.UUID) -> None:
        self.held.pop(credential_id, None)

    async def settle(
        self, credential_id: uuid.UUID, answered: Answered, fallback: AsyncSession | None
    ) -> None:
        """Store the newest token now, in a transaction of its own (the caller holds the
        refresh lock); failing that, write it in ``fallback`` (the broker's session, when its
        transaction may still commit) and hold it for the next refresh."""
        if answered.newest == answered.stored:
            self.drop(credential_id)
            return
        lifetime = (
            timedelta(seconds=answered.lifetime_seconds)
            if answered.lifetime_seconds is not None
            else REFRESH_TOKEN_LIFETIME
        )
        rotated = RotatedToken(
            version=answered.version,
            token=answered.newest,
            replaces_hash=hash_token(answered.stored),
            expires_at=utcnow() + lifetime,
            correlation_id=answered.correlation_id,
            caller=answered.caller,
        )
        self.held[credential_id] = rotated
        try:
            async with transaction(self.sessionmaker) as session:
                await self._store(session, credential_id, rotated)
        except (VaultError, EnvelopeError, SQLAlchemyError, OSError) as exc:
            log.warning(
                "a rotated refresh token could not be stored; it is kept in memory and the "
                "next refresh of the credential sends and stores it",
                extra={"credential_id": str(credential_id), "reason": type(exc).__name__},
            )
            if fallback is not None:
                await self._store(fallback, credential_id, rotated)
            return
        self.drop(credential_id)

    async def _store(
        self, session: AsyncSession, credential_id: uuid.UUID, rotated: RotatedToken
    ) -> None:
        repo = CredentialRepository(session)
        credential = await repo.fresh(credential_id)
        version = await repo.version(credential_id, rotated.version, fresh=True)
        if credential is None or version is None or version.sealed_secret is None:
            return  # deleted meanwhile
        if credential.current_version != rotated.version:
            return  # a new connection replaced the version
        stored = await open_refresh_token(
            self.envelope, credential, rotated.version, version.sealed_secret
        )
        if not rotated.supersedes(stored):
            return  # another replica stored a newer token since
        version.sealed_secret = await seal_secret(
            self.envelope, credential, rotated.version, rotated.token.encode()
        )
        credential.refresh_expires_at = rotated.expires_at
        await repo.flush()
        record(
            session,
            action="refresh_token.rotated",
            caller=rotated.caller,
            account_id=credential.account_id,
            credential_id=credential.id,
            version=rotated.version,
            details={
                "correlation_id": rotated.correlation_id,
                "refresh_expires_at": rotated.expires_at.isoformat(),
            },
        )
