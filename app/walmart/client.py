"""The outbound side: calls to Walmart over the one shared ``httpx.AsyncClient``.

Every call sends ``WM_SVC.NAME`` and a fresh ``WM_QOS.CORRELATION_ID`` (kept in results so a
Walmart support case can quote it). Failures come back as ``WalmartFailure``; no call retries,
because callers own the time budget and the retry policy.
"""

from __future__ import annotations

import base64
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import httpx

from app.walmart.cached_token import MAX_TOKEN_SECONDS
from app.walmart.markets import market_header
from app.walmart.outcomes import (
    WalmartFailure,
    failure_from_exception,
    failure_from_response,
    unreadable_body,
)

# What the vault believes of an answer's lifetimes, whatever it claims (JSON allows 1e308, and
# Python's parser Infinity and NaN): Walmart documents 900 s and a year.
LONGEST_REFRESH_SECONDS = 2 * 365 * 24 * 3600
# Longer is no token but a body to be refused: tokens are stored sealed, one per credential.
LONGEST_TOKEN_CHARS = 8192


@dataclass(frozen=True, slots=True, repr=False)
class TokenGrant:
    access_token: str
    expires_in: float
    correlation_id: str

    def __repr__(self) -> str:
        return f"TokenGrant(expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True, repr=False)
class AppGrant:
    """What an App Store token call answers: an access token and, maybe, a refresh token
    (always for ``authorization_code``; for ``refresh_token`` only when Walmart rotates it)."""

    access_token: str
    expires_in: float
    refresh_token: str | None
    refresh_expires_in: float | None
    correlation_id: str

    def __repr__(self) -> str:
        rotated = self.refresh_token is not None
        return f"AppGrant(expires_in={self.expires_in}, refresh_token_returned={rotated})"

    def token_grant(self) -> TokenGrant:
        return TokenGrant(self.access_token, self.expires_in, self.correlation_id)


@dataclass
class UnusableAccessToken(WalmartFailure):
    """An App Store answer whose access token cannot be used, but which carries a readable
    refresh token: Walmart may have retired the one sent, so the caller keeps this one."""

    refresh_token: str = field(default="", repr=False)
    refresh_expires_in: float | None = None


def basic_authorization(client_id: str, client_secret: str) -> str:
    """``Authorization: Basic`` for a Client ID and Secret; only ever sent by the vault."""
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


class WalmartClient:
    def __init__(self, http: httpx.AsyncClient, *, svc_name: str) -> None:
        self.http = http
        self.svc_name = svc_name

    def base_headers(self, correlation_id: str) -> dict[str, str]:
        return {
            "WM_SVC.NAME": self.svc_name,
            "WM_QOS.CORRELATION_ID": correlation_id,
            "Accept": "application/json",
        }

    async def request_token(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        market: str,
        channel_type: str | None,
    ) -> TokenGrant:
        correlation_id = str(uuid.uuid4())
        headers = self.base_headers(correlation_id) | market_header(market)
        headers["Authorization"] = basic_authorization(client_id, client_secret)
        if channel_type:
            headers["WM_CONSUMER.CHANNEL.TYPE"] = channel_type
        response = await self._send(
            "POST",
            f"{base_url}/v3/token",
            headers=headers,
            data={"grant_type": "client_credentials"},
            token_call=True,
            correlation_id=correlation_id,
        )
        body = _json_object(response, correlation_id)
        token, expires_in = _access_token(body, response.status_code, correlation_id)
        return TokenGrant(token, expires_in, correlation_id)

    async def request_app_token(
        self,
        *,
        base_url: str,
        app_client_id: str,
        app_client_secret: str,
        seller_id: str,
        market: str,
        form: dict[str, str],
    ) -> AppGrant:
        """An App Store token call (``authorization_code`` or ``refresh_token`` in ``form``):
        Basic with mPorts' app credentials, ``WM_PARTNER.ID`` naming the seller."""
        correlation_id = str(uuid.uuid4())
        headers = self.base_headers(correlation_id) | market_header(market)
        headers["Authorization"] = basic_authorization(app_client_id, app_client_secret)
        headers["WM_PARTNER.ID"] = seller_id
        response = await self._send(
            "POST",
            f"{base_url}/v3/token",
            headers=headers,
            data=form,
            token_call=True,
            correlation_id=correlation_id,
        )
        body = _json_object(response, correlation_id)
        refresh = body.get("refresh_token")
        if refresh is not None and not _is_token(refresh):
            raise unreadable_body(response.status_code, correlation_id)
        # An unreadable refresh lifetime is an unknown one: the token itself must not be lost.
        refresh_in = _lifetime(body.get("refresh_token_expires_in"), LONGEST_REFRESH_SECONDS)
        try:
            token, expires_in = _access_token(body, response.status_code, correlation_id)
        except WalmartFailure as failure:
            if refresh is None:
                raise
            # Walmart may have rotated the refresh token already: the caller must keep it.
            raise UnusableAccessToken(
                failure.outcome,
                failure.message,
                failure.status,
                correlation_id=correlation_id,
                refresh_token=refresh,
                refresh_expires_in=refresh_in,
            ) from None
        return AppGrant(token, expires_in, refresh, refresh_in, correlation_id)

    async def token_detail(
        self,
        *,
        base_url: str,
        access_token: str,
        client_id: str,
        client_secret: str,
        market: str,
        channel_type: str | None,
    ) -> tuple[dict[str, Any], str]:
        # Basic too, as Walmart's current sample and the 2023 US spec send it: this call
        # never leaves the vault, so the secret it carries stays inside.
        correlation_id = str(uuid.uuid4())
        headers = self.base_headers(correlation_id) | market_header(market)
        headers["WM_SEC.ACCESS_TOKEN"] = access_token
        headers["Authorization"] = basic_authorization(client_id, client_secret)
        if channel_type:
            headers["WM_CONSUMER.CHANNEL.TYPE"] = channel_type
        response = await self._send(
            "GET",
            f"{base_url}/v3/token/detail",
            headers=headers,
            token_call=False,
            correlation_id=correlation_id,
        )
        return _json_object(response, correlation_id), correlation_id

    async def signed_get(self, url: str, headers: dict[str, str]) -> tuple[int, str]:
        correlation_id = headers["WM_QOS.CORRELATION_ID"]
        response = await self._send(
            "GET", url, headers=headers, token_call=False, correlation_id=correlation_id
        )
        _json_object(response, correlation_id)
        return response.status_code, correlation_id

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        token_call: bool,
        correlation_id: str,
        data: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            # The URL goes out exactly as given (a signature covers its bytes).
            request = self.http.build_request(method, httpx.URL(url), headers=headers, data=data)
            response = await self.http.send(request)
        except httpx.HTTPError as exc:
            raise failure_from_exception(exc, correlation_id) from None
        failure = failure_from_response(
            response, token_call=token_call, correlation_id=correlation_id
        )
        if failure is not None:
            raise failure
        return response


def _access_token(body: dict[str, Any], status: int, correlation_id: str) -> tuple[str, float]:
    """A token answer's access token and its lifetime, or the failure that refuses it."""
    token = body.get("access_token")
    expires_in = _lifetime(body.get("expires_in"), MAX_TOKEN_SECONDS)
    if not _is_token(token) or expires_in is None:
        raise unreadable_body(status, correlation_id)
    _check_token_type(body.get("token_type"), status, correlation_id)
    return token, expires_in


def _is_token(value: object) -> TypeGuard[str]:
    """Printable ASCII (RFC 6749's VSCHAR), so it can be sealed, sent in a header and compared;
    JSON can carry lone surrogates, which none of those survive."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= LONGEST_TOKEN_CHARS
        and value.isascii()
        and value.isprintable()
    )


def _lifetime(value: object, longest: float) -> float | None:
    """Seconds a token lives, at most ``longest``; ``None`` below a second or unless a finite
    number (an int of 400 digits is one, and no float holds it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value < 1:
        return None
    return float(min(value, longest))


def _json_object(response: httpx.Response, correlation_id: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise unreadable_body(response.status_code, correlation_id) from None
    if not isinstance(body, dict):
        raise unreadable_body(response.status_code, correlation_id)
    return body


def _check_token_type(token_type: object, status: int, correlation_id: str) -> None:
    """Walmart's tokens are ``Bearer`` tokens sent as ``WM_SEC.ACCESS_TOKEN``; another type
    would not work there, and is reported instead of being handed out."""
    if token_type is None or (isinstance(token_type, str) and token_type.lower() == "bearer"):
        return
    shown = str(token_type)[:40]
    raise WalmartFailure(
        "walmart_unavailable",
        f"Walmart answered a token of type '{shown}', not Bearer; it was not used.",
        status=status,
        correlation_id=correlation_id,
        details={"token_type": shown},
    )
