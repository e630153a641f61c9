"""Access tokens for App Store connections: the ``refresh_token`` grant, and what its answer
changes.

The token broker calls ``refresh`` while it holds the credential's refresh lock, inside the
transaction that will store the access token. The sealed refresh token is read from the
database there, never from a cached snapshot: another replica may have rotated it a moment
ago. A refresh token Walmart returns is stored at once, in a transaction of its own, before
the access token that came with it is used; should that fail, it is written with the access
token and held in memory too (``app.connections.rotated_tokens``).

Walmart refusing the grant (400 or 401) means the seller disconnected the app or the token
expired: the credential becomes ``invalid`` with reason ``reconnect_required``, in a
transaction of its own (the broker's rolls back), and every header request for it answers
409 ``reconnect_required`` until a new connection link replaces the version.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.connections.apps import open_app_secret
from app.connections.repository import AppRepository
from app.connections.rotated_tokens import Answered, RotatedTokens
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.crypto import Envelope
from app.db import transaction, utcnow
from app.errors import NotFound, ReconnectRequired
from app.keys.keystore import open_refresh_token
from app.keys.snapshot import CredentialSnapshot
from app.walmart.client import TokenGrant, UnusableAccessToken, WalmartClient
from app.walmart.outcomes import WalmartFailure, failure_from_exception
from app.webhooks.credential_events import status_changed

RECONNECT_REQUIRED = "reconnect_required"


def reconnect_required(account_id: str, market: str, environment: str) -> ReconnectRequired:
    return ReconnectRequired(
        f"Walmart no longer accepts the App Store connection of account {account_id} "
        f"({market} {environment}): the seller must connect again. Create a new connection "
        "link (POST /v1/connections) and send it to the seller.",
        details={"account_id": account_id, "market": market, "environment": environment},
    )


@dataclass
class AppRefreshGrants:
    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope
    walmart: WalmartClient
    base_url_for: dict[str, str]
    timeout: float  # Walmart's time budget for the token call
    rotated: RotatedTokens = field(init=False)

    def __post_init__(self) -> None:
        self.rotated = RotatedTokens(self.sessionmaker, self.envelope)

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
        sent = self.rotated.to_send(snapshot.id, current, stored)
        app_secret = await open_app_secret(self.envelope, app)  # the KEK's time, not Walmart's

        def answered(newest: str, lifetime: float | None, correlation_id: str) -> Answered:
            return Answered(current, stored, newest, lifetime, correlation_id, caller)

        try:
            async with asyncio.timeout(self.timeout):
                grant = await self.walmart.request_app_token(
                    base_url=self.base_url_for[snapshot.environment],
                    app_client_id=app.client_id,
                    app_client_secret=app_secret,
                    seller_id=credential.seller_id,
                    market=snapshot.market,
                    form={"grant_type": "refresh_token", "refresh_token": sent},
                )
        except TimeoutError as exc:
            raise failure_from_exception(exc, None) from None
        except UnusableAccessToken as unusable:
            newest = answered(
                unusable.refresh_token, unusable.refresh_expires_in, unusable.correlation_id or ""
            )
            await self.rotated.settle(snapshot.id, newest, fallback=None)  # session rolls back
            raise
        except WalmartFailure as failure:
            if failure.outcome != "invalid_credentials":
                raise
            self.rotated.drop(snapshot.id)
            await self._mark_reconnect_required(snapshot.id, current, failure, caller)
            raise _reconnect(credential) from None
        newest = answered(
            grant.refresh_token or sent, grant.refresh_expires_in, grant.correlation_id
        )
        await self.rotated.settle(snapshot.id, newest, fallback=session)
        return grant.token_grant()

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
