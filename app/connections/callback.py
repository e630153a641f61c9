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

Every way it ends goes through :func:`_completed` or :func:`_failed`, the one place that
records ``connection.completed`` and ``connection.failed``. A failure stores no secret.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.auth import Caller
from app.config import Settings
from app.connections.apps import open_app_secret, redirect_uri
from app.connections.models import Connection, WalmartApp
from app.connections.repository import AppRepository, ConnectionRepository
from app.connections.service import hash_state
from app.connections.storing import StoredConnection, TokenKeeper, store_connection
from app.crypto import Envelope
from app.db import transaction, utcnow
from app.ops.metrics import UNKNOWN_TOKENS
from app.pages.throttle import PageThrottle
from app.walmart.client import AppGrant, WalmartClient
from app.walmart.live_test import LiveTestResult, token_detail_result
from app.walmart.outcomes import WalmartFailure
from app.webhooks.events import emit

log = logging.getLogger("vault.connections")


@dataclass(frozen=True, slots=True)
class CallbackParams:
    code: str | None
    state: str | None
    client_id: str | None
    seller_id: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class CallbackResult:
    outcome: str  # "connected", "rate_limited" or a failure code of ``outcomes.PAGES``
    connection: Connection | None = None
    credential_id: uuid.UUID | None = None
    retry_after_seconds: int = 0


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
            return await _failed(session, connection, "state_used", request_id)
        now = utcnow()
        if connection.expires_at <= now:
            connection.status = "expired"
            return await _failed(session, connection, "state_expired", request_id)
        app = await AppRepository(session).get(connection.app_id)
        if not await repo.claim(connection.id, now=now):
            return await _failed(session, connection, "state_used", request_id)
        connection.used_at = now
        if params.error:
            return await _failed(session, connection, "declined", request_id)
        if app is None or params.client_id != app.client_id:
            return await _failed(session, connection, "client_mismatch", request_id)
        if not params.code or not params.seller_id:
            return await _failed(session, connection, "incomplete_callback", request_id)
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
                connection, "code_refused" if refused else "walmart_unavailable", request_id,
                failure,
            )  # fmt: skip
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
            walmart = _walmart_details(failure) if failure else (test.as_json() if test else {})
            result = await _failed(session, fresh, code, request_id, walmart)
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
                return await _failed(session, None, "unknown_state", request_id)
            stored = await store_connection(
                session,
                self.envelope,
                self.tokens,
                connection=fresh,
                app=app,
                seller_id=params.seller_id or "",
                grant=grant,
                test=test,
                caller=_caller(fresh, request_id),
                retention=self.settings.version_retention,
            )
            return await _completed(session, fresh, stored, request_id)


def _caller(connection: Connection, request_id: str | None) -> Caller:
    # The seller's browser has no API token: events are attributed to the client that made
    # the link.
    return Caller(
        client_id=connection.created_by,
        name="connection-callback",
        scopes=frozenset(),
        account_ids=None,
        request_id=request_id,
    )


def _walmart_details(failure: WalmartFailure) -> dict[str, Any]:
    return {
        "outcome": failure.outcome,
        "walmart_status": failure.status,
        "walmart_error_code": failure.error_code,
        "correlation_id": failure.correlation_id,
    }


async def _completed(
    session: AsyncSession, connection: Connection, stored: StoredConnection, request_id: str | None
) -> CallbackResult:
    connection.status, connection.credential_id = "connected", stored.credential_id
    connection.completed_at = utcnow()
    await ConnectionRepository(session).flush()
    await record(
        session,
        action="connection.completed",
        caller=_caller(connection, request_id),
        account_id=connection.account_id,
        credential_id=stored.credential_id,
        version=stored.version,
        details={"connection_id": str(connection.id), "seller_id": stored.seller_id},
    )
    await emit(session, "connection.completed", _event_data(connection, stored.credential_id))
    return CallbackResult("connected", connection, stored.credential_id)


def _event_data(connection: Connection, credential_id: uuid.UUID | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "connection_id": str(connection.id),
        "account_id": connection.account_id,
        "market": connection.market,
        "environment": connection.environment,
        "status": connection.status,
    }
    if credential_id is not None:
        data["credential_id"] = str(credential_id)
    return data


async def _failed(
    session: AsyncSession,
    connection: Connection | None,
    code: str,
    request_id: str | None,
    walmart: dict[str, Any] | None = None,
) -> CallbackResult:
    """Record a failed callback; a link still pending becomes ``failed`` (it was claimed)."""
    if connection is not None and connection.status == "pending":
        connection.status = "failed"
        connection.error = {"code": code, **({"walmart": walmart} if walmart else {})}
        connection.completed_at = utcnow()
        await ConnectionRepository(session).flush()
    elif connection is not None and connection.status == "expired":
        await ConnectionRepository(session).flush()
    details: dict[str, Any] = {"reason": code}
    if connection is not None:
        details["connection_id"] = str(connection.id)
    if walmart:
        details["walmart"] = {k: walmart.get(k) for k in ("outcome", "walmart_status",
                              "walmart_error_code", "correlation_id")}  # fmt: skip
    await record(
        session,
        action="connection.failed",
        caller=_caller(connection, request_id) if connection else None,
        outcome=code,
        account_id=connection.account_id if connection else None,
        details=details,
    )
    if connection is not None and code != "state_used":
        # A link that just ended (a replay of a finished one announces nothing new).
        await emit(session, "connection.failed", _event_data(connection) | {"reason": code})
    return CallbackResult(code, connection)
