"""Walmart's endpoints: the Token API, token detail, signed ``/v3/ca/...`` and OAuth ``/v3/...``.

Rules come from reference/walmart-auth.md (2.2-2.6 OAuth, 1.2-1.7 signatures, 4 markets).
Where Walmart's behaviour is undocumented the simulator picks the stricter reading, because
its job is to make the vault's mistakes visible:

* ``WM_MARKET`` defaults to ``US`` when absent (MX auth page) and must equal the market the
  OAuth client was registered in, on the token call and on every call with its token;
* the order of checks is headers (400) -> credentials (401) -> request details (400), so a
  test can aim at exactly one failure;
* JSON only: the ``Accept: application/xml`` variant is not simulated.

Each handler notes on the request's :class:`RequestRecord` which scheme it checked and
whether auth passed; :mod:`.middleware` stores the record with the final status.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import errors
from .models import IssuedToken, OAuthClient, RequestRecord
from .signature import verify_signature, wire_url
from .state import SimulatorState, now_ms

SVC_NAME = "WM_SVC.NAME"
CORRELATION_ID = "WM_QOS.CORRELATION_ID"
ACCESS_TOKEN = "WM_SEC.ACCESS_TOKEN"
CHANNEL_TYPE = "WM_CONSUMER.CHANNEL.TYPE"
SIGNATURE_HEADERS = ("WM_CONSUMER.ID", "WM_SEC.TIMESTAMP", "WM_SEC.AUTH_SIGNATURE", CHANNEL_TYPE)
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
RECORD_KEY = "walmart_sim.record"


def _record(request: Request) -> RequestRecord:
    # Requests that bypass the middleware (direct app use in a unit test) still work.
    record = request.scope.get(RECORD_KEY)
    return record if isinstance(record, RequestRecord) else RequestRecord(0, "", "", "", [])


def _header(request: Request, name: str) -> str:
    return request.headers.get(name, "").strip()


def _require(request: Request, *names: str) -> Response | None:
    for name in names:
        if not _header(request, name):
            return errors.missing_header(name)
    return None


def _market_mismatch(request: Request, client: OAuthClient) -> Response | None:
    sent = _header(request, "WM_MARKET") or "US"
    if sent.upper() != client.market.upper():
        return errors.unauthorized(
            f"WM_MARKET '{sent}' does not match the market of this client ({client.market})"
        )
    return None


def _basic_credentials(value: str) -> tuple[str, str] | None:
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


class WalmartApi:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/v3/token", self.token, methods=["POST"]),
            Route("/v3/token/detail", self.token_detail, methods=["GET"]),
            Route("/v3/ca/{rest:path}", self.signed_api, methods=ALL_METHODS),
            Route("/v3/{rest:path}", self.oauth_api, methods=ALL_METHODS),
        ]

    async def token(self, request: Request) -> Response:
        record = _record(request)
        record.auth = "token"
        body = await request.body()  # read before touching state: no await past this point
        creds = _basic_credentials(request.headers.get("authorization", ""))
        record.principal = creds[0] if creds else None
        failure = self._token_failure(request, body, creds)
        if failure is not None:
            record.auth_passed = False
            self.state.count_token_failure(creds[0] if creds else "")
            return failure
        assert creds is not None  # _token_failure returns a response when creds are absent
        token, info = self.state.issue_token(self.state.oauth_clients[creds[0]])
        record.auth_passed = True
        lifetime = (info.expire_at_ms - info.issued_at_ms) // 1000
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": lifetime})

    def _token_failure(
        self, request: Request, body: bytes, creds: tuple[str, str] | None
    ) -> Response | None:
        missing = _require(request, SVC_NAME, CORRELATION_ID)
        if missing is not None:
            return missing
        client = self.state.oauth_clients.get(creds[0]) if creds else None
        if creds is None or client is None:
            return errors.unauthorized(
                "Unauthorized token or incorrect authorization header. Please verify correct "
                'format: "Authorization: Basic Base64Encode(clientId:clientSecret)"'
            )
        if not hmac.compare_digest(creds[1].encode(), client.client_secret.encode()):
            return errors.unauthorized("Invalid client credentials")
        market = _market_mismatch(request, client)
        if market is not None:
            return market
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return errors.bad_request("Content-Type", "Expected application/x-www-form-urlencoded")
        grant = parse_qs(body.decode("utf-8", "replace")).get("grant_type", [""])[0]
        if grant != "client_credentials":
            return errors.bad_request("grant_type", f"Unsupported grant_type '{grant}'")
        return None

    def _live_token(
        self, request: Request, record: RequestRecord
    ) -> tuple[IssuedToken, OAuthClient] | Response:
        token = _header(request, ACCESS_TOKEN)
        if not token:
            if request.headers.get("authorization", "").lower().startswith("bearer"):
                return errors.unauthorized(
                    "Bearer authorization is not accepted; use WM_SEC.ACCESS_TOKEN"
                )
            return errors.unauthorized("Missing WM_SEC.ACCESS_TOKEN")
        status, info = self.state.token_status(token)
        if info is None:
            return errors.unauthorized("Unknown or revoked access token")
        record.principal = info.client_id
        if status == "expired":
            if self.state.settings.expired_token_status == 400:
                return errors.invalid_token("The access token has expired")
            return errors.unauthorized("The access token has expired")
        client = self.state.oauth_clients[info.client_id]
        market = _market_mismatch(request, client)
        return market if market is not None else (info, client)

    async def token_detail(self, request: Request) -> Response:
        record = _record(request)
        record.auth = "token_detail"
        checked = _require(request, SVC_NAME, CORRELATION_ID) or self._live_token(request, record)
        if isinstance(checked, Response):
            record.auth_passed = False
            return checked
        info, client = checked
        record.auth_passed = True
        sent_channel = _header(request, CHANNEL_TYPE).lower()
        channel_match = client.channel_type is None or client.channel_type.lower() == sent_channel
        return JSONResponse(
            {
                "expire_at": str(info.expire_at_ms),
                "issued_at": str(info.issued_at_ms),
                "is_valid": True,
                "is_channel_match": channel_match,
                "scopes": dict(client.scopes),
            }
        )

    async def oauth_api(self, request: Request) -> Response:
        record = _record(request)
        record.auth = "oauth"
        await request.body()  # drain the body before deciding, as a gateway would
        checked = _require(request, SVC_NAME, CORRELATION_ID) or self._live_token(request, record)
        if isinstance(checked, Response):
            record.auth_passed = False
            return checked
        record.auth_passed = True
        return JSONResponse({"ok": True, "path": request.url.path})

    async def signed_api(self, request: Request) -> Response:
        record = _record(request)
        record.auth = "signature"
        body = await request.body()
        failure = self._signature_failure(request, record)
        if failure is not None:
            record.auth_passed = False
            return failure
        record.auth_passed = True
        path = request.url.path
        if request.method not in ("GET", "HEAD"):
            return JSONResponse(
                {"ok": True, "method": request.method, "path": path, "body_bytes": len(body)}
            )
        if path.rstrip("/") == "/v3/ca/feeds":
            raw_limit = request.query_params.get("limit", "10")
            if not (raw_limit.isascii() and raw_limit.isdigit()):
                return errors.bad_request("limit", "limit must be a non-negative integer")
            limit = int(raw_limit)
            return JSONResponse(
                {"results": {"feed": []}, "totalResults": 0, "offset": 0, "limit": limit}
            )
        return JSONResponse({"ok": True})

    def _signature_failure(self, request: Request, record: RequestRecord) -> Response | None:
        missing = _require(request, *SIGNATURE_HEADERS, SVC_NAME, CORRELATION_ID)
        if missing is not None:
            return missing
        consumer_id = _header(request, "WM_CONSUMER.ID")
        record.principal = consumer_id
        consumer = self.state.consumers.get(consumer_id)
        if consumer is None:
            return errors.unauthorized("Unknown or deactivated consumer id")
        channel = _header(request, CHANNEL_TYPE)
        if consumer.channel_type is not None and consumer.channel_type.lower() != channel.lower():
            return errors.unauthorized("WM_CONSUMER.CHANNEL.TYPE does not match this consumer")
        timestamp = _header(request, "WM_SEC.TIMESTAMP")
        if not (timestamp.isascii() and timestamp.isdigit()):
            return errors.unauthorized("WM_SEC.TIMESTAMP must be epoch milliseconds")
        window_ms = self.state.settings.timestamp_window_seconds * 1000
        if abs(now_ms() - int(timestamp)) > window_ms:
            return errors.unauthorized("WM_SEC.TIMESTAMP is outside the accepted window")
        url = wire_url(request.scope)
        signature = _header(request, "WM_SEC.AUTH_SIGNATURE")
        if not verify_signature(
            consumer.public_key, signature, consumer_id, url, request.method, timestamp
        ):
            return errors.unauthorized(f"Signature does not verify for {request.method} {url}")
        return None
