"""The seller's return from Walmart's consent page: check it, exchange the code, store the
connection.

Three steps, so no database transaction waits on Walmart:

1. *claim* (one transaction): the ``state`` is looked up by its hash; an unknown, used or
   expired state, a declined consent, another app's client id or a callback without code or
   seller id ends here. Otherwise the link is marked used, so a replayed callback URL finds
   it taken.
2. *exchange* (no transaction): the ``authorization_code`` grant with mPorts' app
   credentials and ``WM_PARTNER.ID`` = the seller, then a live check of the new access
   token (``GET /v3/token/detail``).
3. *store* (one transaction): the refresh token sealed as a new ``app_oauth`` credential, or
   as a new version of the slot's credential promoted over the current one; the access token
   kept for the first headers call; the link marked connected.

Every way it ends goes through ``app.connections.endings`` (``completed`` or ``failed``), the
one place that records ``connection.completed`` and ``connection.failed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.connections.apps import open_app_secret, redirect_uri
from app.connections.endings import (
    CallbackResult,
    callback_caller,
    completed,
    failed,
    walmart_details,
)
from app.connections.models import Connection, WalmartApp
from app.connections.repository import AppRepository, ConnectionRepository
from app.connections.service import hash_state
from app.connections.storing import TokenKeeper, store_connection
from app.crypto import Envelope
from app.db import transaction, utcnow
from app.ops.metrics import UNKNOWN_TOKENS
from app.pages.throttle import PageThrottle
from app.walmart.client import AppGrant, WalmartClient
from app.walmart.live_test import LiveTestResult, token_detail_result
from app.walmart.outcomes import WalmartFailure

log = logging.getLogger("vault.connections")


@dataclass(frozen=True, slots=True)
class CallbackParams:
    code: str | None
    state: str | None
    client_id: str | None
    seller_id: str | None
    error: str | None


class _Stop(Exception):
    def __init__(self, result: CallbackResult) -> None:
        self.result = result


@dataclass
class CallbackHandler:
    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope
    settings: Settings
    walmart: WalmartClient
    tokens: TokenKeeper
    throttle: PageThrottle

    async def handle(
        self, params: CallbackParams, *, request_id: str | None, address: str
    ) -> CallbackResult:
        try:
            connection, app = await self._claim(params, request_id, address)
            grant, test = await self._exchange(connection, app, params, request_id)
            return await self._store(connection, app, params, grant, test, request_id)
        except _Stop as stop:
            return stop.result

    async def _claim(
        self, params: CallbackParams, request_id: str | None, address: str
    ) -> tuple[Connection, WalmartApp]:
        async with transaction(self.sessionmaker) as session:
            checked = await self._check(session, params, request_id, address)
        if isinstance(checked, CallbackResult):  # committed: the failure is on record
            raise _Stop(checked)
        return checked

    async def _check(
        self, session: AsyncSession, params: CallbackParams, request_id: str | None, address: str
    ) -> tuple[Connection, WalmartApp] | CallbackResult:
        repo = ConnectionRepository(session)
        connection = await repo.by_state_hash(hash_state(params.state)) if params.state else None
        if connection is None or connection.used_at is not None or connection.status != "pending":
            # Anyone can send these, as often as they like: throttled per address before
            # anything is written, and an unknown state (no connection to record it on)
            # is only counted.
            if not (verdict := self.throttle.stranger(address)).allowed:
                return CallbackResult(
                    "rate_limited", retry_after_seconds=verdict.retry_after_seconds
                )
            if connection is None:
                UNKNOWN_TOKENS.labels(page="callback").inc()
                log.info("connection callback with an unknown state")
                return CallbackResult("unknown_state")
            return await failed(session, connection, "state_used", request_id)
        now = utcnow()
        if connection.expires_at <= now:
            connection.status = "expired"
            return await failed(session, connection, "state_expired", request_id)
        app = await AppRepository(session).get(connection.app_id)
        if not await repo.claim(connection.id, now=now):
            return await failed(session, connection, "state_used", request_id)
        connection.used_at = now
        if params.error:
            return await failed(session, connection, "declined", request_id)
        if app is None or params.client_id != app.client_id:
            return await failed(session, connection, "client_mismatch", request_id)
        if not params.code or not params.seller_id:
            return await failed(session, connection, "incomplete_callback", request_id)
        return connection, app

    async def _exchange(
        self,
        connection: Connection,
        app: WalmartApp,
        params: CallbackParams,
        request_id: str | None,
    ) -> tuple[AppGrant, LiveTestResult]:
        base_url = self.settings.walmart_base_url(connection.environment)
        app_secret = await open_app_secret(self.envelope, app)
        try:
            grant = await self.walmart.request_app_token(
                base_url=base_url,
                app_client_id=app.client_id,
                app_client_secret=app_secret,
                seller_id=params.seller_id or "",
                market=connection.market,
                form={
                    "grant_type": "authorization_code",
                    "code": params.code or "",
                    "redirect_uri": redirect_uri(self.settings),
                },
            )
            if grant.refresh_token is None:
                raise WalmartFailure(
                    "walmart_unavailable", "Walmart's answer carried no refresh token."
                )
        except WalmartFailure as failure:
            refused = failure.outcome == "invalid_credentials"
            await self._fail_later(
                connection,
                "code_refused" if refused else "walmart_unavailable",
                request_id,
                failure,
            )
        test = await token_detail_result(
            self.walmart,
            base_url=base_url,
            market=connection.market,
            access_token=grant.access_token,
            client_id=app.client_id,
            client_secret=app_secret,
            budget=self.settings.walmart_timeout_seconds,
        )
        if not test.ok:
            await self._fail_later(connection, "test_failed", request_id, None, test)
        return grant, test

    async def _fail_later(
        self,
        connection: Connection,
        code: str,
        request_id: str | None,
        failure: WalmartFailure | None,
        test: LiveTestResult | None = None,
    ) -> NoReturn:
        async with transaction(self.sessionmaker) as session:
            fresh = await ConnectionRepository(session).get(connection.id)
            walmart = walmart_details(failure) if failure else (test.as_json() if test else {})
            result = await failed(session, fresh, code, request_id, walmart)
        raise _Stop(result)

    async def _store(
        self,
        connection: Connection,
        app: WalmartApp,
        params: CallbackParams,
        grant: AppGrant,
        test: LiveTestResult,
        request_id: str | None,
    ) -> CallbackResult:
        async with transaction(self.sessionmaker) as session:
            fresh = await ConnectionRepository(session).get(connection.id)
            if fresh is None:  # the app (and its links) was deleted meanwhile
                return await failed(session, None, "unknown_state", request_id)
            stored = await store_connection(
                session,
                self.envelope,
                self.tokens,
                connection=fresh,
                app=app,
                seller_id=params.seller_id or "",
                grant=grant,
                test=test,
                caller=callback_caller(fresh, request_id),
                retention=self.settings.version_retention,
            )
            return await completed(session, fresh, stored, request_id)
