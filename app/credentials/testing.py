"""Live tests of credentials against Walmart: on demand, and before a registration is stored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.config import Settings
from app.credentials.models import Credential
from app.credentials.repository import CredentialRepository
from app.credentials.secrets import PreparedSecret
from app.credentials.service import get_credential
from app.credentials.snapshot import snapshot_of
from app.crypto import load_sealed_pkcs8
from app.db import transaction, utcnow
from app.errors import Conflict, NotFound
from app.keys.keystore import KeyStore
from app.keys.snapshot import CredentialSnapshot
from app.ops.metrics import TESTS
from app.walmart.broker import TokenBroker
from app.walmart.client import TokenGrant, WalmartClient
from app.walmart.live_test import LiveTestResult, TestTarget, run_live_test
from app.webhooks.credential_events import status_changed

# Outcomes that say something about the credentials themselves; the others (rate limits,
# outages, timeouts) leave the status as it was, and so does a 403: the keys authenticated
# and only lack a permission.
VERDICTS = {"valid": "valid", "invalid_credentials": "invalid", "channel_mismatch": "invalid"}


class AppConnectionTests(Protocol):
    """The live test of an App Store connection (kind ``app_oauth``): an access token from its
    refresh token, checked by Walmart."""

    async def test(self, snapshot: CredentialSnapshot, caller: Caller) -> LiveTestResult: ...


@dataclass
class LiveTester:
    """Runs live tests with what it needs: the Walmart client, the key store that opens the
    secret, and the broker that keeps an OAuth test's token for the next headers call."""

    __test__ = False  # not a pytest test class

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    walmart: WalmartClient
    keystore: KeyStore
    broker: TokenBroker
    app_connections: AppConnectionTests | None = None

    async def check_new(
        self, prepared: PreparedSecret, *, market: str, environment: str
    ) -> tuple[LiveTestResult, TokenGrant | None]:
        """Test credentials that are not stored yet (``POST /v1/credentials?test=true``); the
        result, and the token an OAuth test obtained."""
        target = TestTarget(
            kind=prepared.kind,
            base_url=self.settings.walmart_base_url(environment),
            market=market,
            public_id=prepared.public_id,
            channel_type=prepared.channel_type,
        )
        secret = (
            load_sealed_pkcs8(prepared.plaintext)
            if prepared.kind == "signature"
            else prepared.plaintext
        )
        result, grant = await run_live_test(
            self.walmart, target, secret=secret, budget=self.settings.walmart_timeout_seconds
        )
        TESTS.labels(result.outcome, "create").inc()
        return result, grant

    async def keep_token(
        self, session: AsyncSession, credential: Credential, grant: TokenGrant
    ) -> None:
        """Cache the token a registration test obtained, for the credential now stored."""
        await self.broker.store_grant(session, snapshot_of(credential, None), grant)

    async def check_stored(
        self, *, caller: Caller, credential_id: uuid.UUID, trigger: str = "api"
    ) -> LiveTestResult:
        """Test a stored credential's current version and keep the result on it.

        Three steps, so no database connection waits on Walmart: read the credential (its own
        transaction), test it live (none), then apply the result to the row as it is by then
        (its own transaction). A change that landed meanwhile is kept: an edit or a disable is
        applied around (the status verdict never lifts a disable), while a rotation or a
        deletion makes the result about a version that is no longer current, answered 409 or
        404 naming what changed."""
        async with transaction(self.sessionmaker) as session:
            credential = await get_credential(session, caller=caller, credential_id=credential_id)
            version = await CredentialRepository(session).version(
                credential.id, credential.current_version
            )
            snapshot = snapshot_of(credential, version.sealed_secret if version else None)
        target = TestTarget(
            kind=snapshot.kind,
            base_url=self.settings.walmart_base_url(snapshot.environment),
            market=snapshot.market,
            public_id=snapshot.public_id,
            channel_type=snapshot.channel_type,
        )
        grant: TokenGrant | None = None
        if snapshot.kind == "app_oauth" and self.app_connections is not None:
            # The App Store path reads its app and refreshes its token in transactions of
            # its own, and holds none while Walmart answers.
            result = await self.app_connections.test(snapshot, caller)
        else:
            secret = (
                await self.keystore.signing_key(snapshot)
                if snapshot.kind == "signature"
                else await self.keystore.open_secret(snapshot)
            )
            result, grant = await run_live_test(
                self.walmart, target, secret=secret, budget=self.settings.walmart_timeout_seconds
            )
        TESTS.labels(result.outcome, trigger).inc()
        async with transaction(self.sessionmaker) as session:
            await self._apply(session, snapshot, result, caller=caller, trigger=trigger)
            if grant is not None:
                await self.broker.store_grant(session, snapshot, grant)
        return result

    async def _apply(
        self,
        session: AsyncSession,
        tested: CredentialSnapshot,
        result: LiveTestResult,
        *,
        caller: Caller,
        trigger: str,
    ) -> None:
        repo = CredentialRepository(session)
        credential = await repo.fresh(tested.id)
        if credential is None:
            raise NotFound(f"Credential {tested.id} was deleted while it was being tested.")
        if credential.current_version != tested.version:
            raise Conflict(
                f"Credential {tested.id} moved to version {credential.current_version} while "
                f"version {tested.version} was being tested; test it again.",
                details={
                    "tested_version": tested.version,
                    "current_version": credential.current_version,
                    "result": result.as_json(),
                },
            )
        version = await repo.version(credential.id, tested.version, fresh=True)
        before = credential.status
        credential.last_test = result.as_json()
        if credential.status != "disabled" and result.outcome in VERDICTS:
            credential.status = VERDICTS[result.outcome]
        credential.updated_at = utcnow()
        if version is not None:
            version.test = result.as_json()
        await repo.flush()
        reason = "drift" if trigger == "schedule" else "test_failed"
        await status_changed(session, credential, before, reason=reason)
        record(
            session,
            action="credential.tested",
            caller=caller,
            outcome=result.outcome,
            account_id=credential.account_id,
            credential_id=credential.id,
            version=credential.current_version,
            details={
                "correlation_id": result.correlation_id,
                "status": credential.status,
                "trigger": trigger,
            },
        )
