"""The live test of an App Store connection: an access token from the broker (cached, or
from the refresh token under the usual locks, so a test never races a refresh), then
Walmart's token detail with it.

Like every live test, it holds no database connection while Walmart answers: the app is read
in a transaction of its own, which ends before the token detail call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import Caller
from app.config import Settings
from app.connections.apps import open_app_secret
from app.connections.models import WalmartApp
from app.connections.repository import AppRepository
from app.credentials.repository import CredentialRepository
from app.crypto import Envelope
from app.db import transaction
from app.errors import ReconnectRequired
from app.keys.snapshot import CredentialSnapshot
from app.walmart.broker import TokenBroker
from app.walmart.client import WalmartClient
from app.walmart.live_test import LiveTestResult, failure_result, token_detail_result
from app.walmart.outcomes import WalmartFailure


@dataclass
class AppConnectionTester:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope
    walmart: WalmartClient
    broker: TokenBroker

    async def test(self, snapshot: CredentialSnapshot, caller: Caller) -> LiveTestResult:
        app = await self._app_of(snapshot)
        if app is None:
            return failure_result(_refused("The Walmart app of this connection was deleted."))
        try:
            token = await self.broker.token(snapshot, caller=caller)
        except ReconnectRequired as exc:
            return failure_result(_refused(exc.message))
        except WalmartFailure as failure:
            return failure_result(failure)
        return await token_detail_result(
            self.walmart,
            base_url=self.settings.walmart_base_url(snapshot.environment),
            market=snapshot.market,
            access_token=token.token,
            client_id=app.client_id,
            client_secret=await open_app_secret(self.envelope, app),
            budget=self.settings.walmart_timeout_seconds,
        )

    async def _app_of(self, snapshot: CredentialSnapshot) -> WalmartApp | None:
        async with transaction(self.sessionmaker) as session:
            credential = await CredentialRepository(session).get_live(snapshot.id)
            app_id = credential.app_id if credential is not None else None
            return await AppRepository(session).get(app_id) if app_id is not None else None


def _refused(message: str) -> WalmartFailure:
    return WalmartFailure("invalid_credentials", message, details={"reason": "reconnect_required"})
