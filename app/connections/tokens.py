"""Access tokens for App Store connections: the ``refresh_token`` grant, and what its answer
changes.

The token broker calls ``refresh`` while it holds the credential's refresh lock, inside the
transaction that will store the access token. The sealed refresh token is read from the
database there, never from a cached snapshot: another replica may have rotated it a moment
ago. A refresh token Walmart returns is sealed into the same row in that transaction, so it
commits together with the access token and before anyone uses either.

Walmart may retire the old refresh token the moment it answers with a new one, so a rotated
token must not be lost with a transaction that fails afterwards (the database away, a lock
wait past the timeout, the KEK unreachable). Until a commit holds it, it is also held here, in
memory: the broker then calls ``store_held``, which writes it in a transaction of its own, and
should that fail too, the next refresh of the credential sends the held token and stores it.

Walmart refusing the grant (400 or 401) means the seller disconnected the app or the token
expired: the credential becomes ``invalid`` with reason ``reconnect_required``, in a
transaction of its own (the broker's rolls back), and every header request for it answers
409 ``reconnect_required`` until a new connection link replaces the version.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.connections.apps import open_app_secret
from app.connections.repository import AppRepository
from app.credentials.models import Credential, CredentialVersion
from app.credentials.repository import CredentialRepository
from app.crypto import Envelope, EnvelopeError
from app.db import transaction, utcnow
from app.errors import NotFound, ReconnectRequired, VaultError
from app.keys.binding import seal_secret
from app.keys.keystore import open_refresh_token
from app.keys.snapshot import CredentialSnapshot
from app.walmart.client import TokenGrant, WalmartClient
from app.walmart.outcomes import WalmartFailure
from app.webhooks.credential_events import status_changed

log = logging.getLogger("vault.connections")

RECONNECT_REQUIRED = "reconnect_required"
# Walmart: "Refresh tokens remain valid for a year", when an answer does not say.
REFRESH_TOKEN_LIFETIME = timedelta(days=365)


def reconnect_required(account_id: str, market: str, environment: str) -> ReconnectRequired:
    return ReconnectRequired(
        f"Walmart no longer accepts the App Store connection of account {account_id} "
        f"({market} {environment}): the seller must connect again. Create a new connection "
        "link (POST /v1/connections) and send it to the seller.",
        details={"account_id": account_id, "market": market, "environment": environment},
    )


@dataclass(frozen=True)
class RotatedToken:
    """A refresh token Walmart answered, for one credential version, not yet committed."""

    version: int
    token: str = field(repr=False)
    # SHA-256 of the stored token it supersedes: once the database holds another (a replica
    # refreshed meanwhile), this one is obsolete and must neither be sent nor stored.
    replaces: bytes = field(repr=False)
    expires_at: datetime
    correlation_id: str

    def supersedes(self, stored: str) -> bool:
        return hmac.compare_digest(self.replaces, _digest(stored))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass
class AppRefreshGrants:
    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope
    walmart: WalmartClient
    base_url_for: dict[str, str]
    # Rotated refresh tokens that no commit has stored yet, by credential id (module doc).
    held: dict[uuid.UUID, RotatedToken] = field(default_factory=dict)

    async def refresh(
        self, session: AsyncSession, snapshot: CredentialSnapshot, caller: Caller | None
    ) -> TokenGrant:
        repo = CredentialRepository(session)
        credential = await repo.fresh(snapshot.id)
        if credential is None:
            raise NotFound(f"No credential with id {snapshot.id}.")
        # The current version, even if the snapshot predates a reconnect: an older version's
        # refresh token may no longer work, and refusing it must not ask for a reconnect.
        current = credential.current_version
        version = await repo.version(snapshot.id, current, fresh=True)
        if version is None or version.sealed_secret is None:
            raise NotFound(f"Credential {snapshot.id} has no key material any more.")
        if credential.status_reason == RECONNECT_REQUIRED:
            raise _reconnect(credential)
        app = await AppRepository(session).get(credential.app_id) if credential.app_id else None
        if app is None or credential.seller_id is None:
            raise _reconnect(credential)
        stored = await open_refresh_token(self.envelope, credential, current, version.sealed_secret)
        held = self.held.get(snapshot.id)
        if held is not None and (held.version != current or not held.supersedes(stored)):
            del self.held[snapshot.id]  # a reconnect or another replica's refresh came after it
            held = None
        sent = held.token if held is not None else stored
        try:
            grant = await self.walmart.request_app_token(
                base_url=self.base_url_for[snapshot.environment],
                app_client_id=app.client_id,
                app_client_secret=await open_app_secret(self.envelope, app),
                seller_id=credential.seller_id,
                market=snapshot.market,
                form={"grant_type": "refresh_token", "refresh_token": sent},
            )
        except WalmartFailure as failure:
            if failure.outcome != "invalid_credentials":
                raise
            self.held.pop(snapshot.id, None)
            await self._mark_reconnect_required(snapshot.id, current, failure, caller)
            raise _reconnect(credential) from None
        newest = held
        if grant.refresh_token is not None and grant.refresh_token != sent:
            lifetime = (
                timedelta(seconds=grant.refresh_expires_in)
                if grant.refresh_expires_in is not None
                else REFRESH_TOKEN_LIFETIME
            )
            newest = RotatedToken(
                current,
                grant.refresh_token,
                _digest(stored),
                utcnow() + lifetime,
                grant.correlation_id,
            )
        if newest is not None and newest.token != stored:
            self._hold_until_committed(session, snapshot.id, newest)
            await self._write(session, credential, version, newest, caller)
        return grant.token_grant()

    def _hold_until_committed(
        self, session: AsyncSession, credential_id: uuid.UUID, rotated: RotatedToken
    ) -> None:
        self.held[credential_id] = rotated

        def committed(_session: object) -> None:
            if self.held.get(credential_id) is rotated:
                del self.held[credential_id]

        event.listen(session.sync_session, "after_commit", committed, once=True)

    async def store_held(self, credential_id: uuid.UUID, caller: Caller | None) -> None:
        """After the broker's transaction: store a rotated token it did not commit, in a
        transaction of its own; failing that, keep it for the next refresh."""
        held = self.held.get(credential_id)
        if held is None:
            return
        try:
            async with transaction(self.sessionmaker) as session:
                repo = CredentialRepository(session)
                credential = await repo.fresh(credential_id)
                version = await repo.version(credential_id, held.version, fresh=True)
                if (
                    credential is not None
                    and version is not None
                    and version.sealed_secret is not None
                    and held.supersedes(
                        await open_refresh_token(
                            self.envelope, credential, held.version, version.sealed_secret
                        )
                    )
                ):
                    await self._write(session, credential, version, held, caller)
        except (VaultError, EnvelopeError) as exc:
            log.warning(
                "a rotated refresh token could not be stored; it is kept in memory and the "
                "next refresh of the credential stores it",
                extra={"credential_id": str(credential_id), "reason": type(exc).__name__},
            )
            return
        if self.held.get(credential_id) is held:
            del self.held[credential_id]

    async def _write(
        self,
        session: AsyncSession,
        credential: Credential,
        version: CredentialVersion,
        rotated: RotatedToken,
        caller: Caller | None,
    ) -> None:
        version.sealed_secret = await seal_secret(
            self.envelope, credential, rotated.version, rotated.token.encode()
        )
        if credential.current_version == rotated.version:
            credential.refresh_expires_at = rotated.expires_at
        await CredentialRepository(session).flush()
        record(
            session,
            action="refresh_token.rotated",
            caller=caller,
            account_id=credential.account_id,
            credential_id=credential.id,
            version=rotated.version,
            details={
                "correlation_id": rotated.correlation_id,
                "refresh_expires_at": rotated.expires_at.isoformat(),
            },
        )

    async def _mark_reconnect_required(
        self,
        credential_id: uuid.UUID,
        version: int,
        failure: WalmartFailure,
        caller: Caller | None,
    ) -> None:
        async with transaction(self.sessionmaker) as session:
            repo = CredentialRepository(session)
            credential = await repo.fresh(credential_id)
            if credential is None or credential.current_version != version:
                return  # deleted, or a new connection replaced the refused version meanwhile
            before = credential.status
            if credential.status != "disabled":
                credential.status = "invalid"
            credential.status_reason = RECONNECT_REQUIRED
            credential.updated_at = utcnow()
            await repo.drop_access_token(credential.id)
            await repo.flush()
            await status_changed(session, credential, before, reason=RECONNECT_REQUIRED)
            record(
                session,
                action="refresh_token.refused",
                caller=caller,
                outcome=RECONNECT_REQUIRED,
                account_id=credential.account_id,
                credential_id=credential.id,
                version=version,
                details={
                    "walmart_status": failure.status,
                    "walmart_error_code": failure.error_code,
                    "correlation_id": failure.correlation_id,
                },
            )


def _reconnect(credential: Credential) -> ReconnectRequired:
    return reconnect_required(credential.account_id, credential.market, credential.environment)
