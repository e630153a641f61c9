"""Walmart's OAuth side: ``POST /v3/token``, ``GET /v3/token/detail`` and OAuth ``/v3/...``.

Rules come from reference/walmart-auth.md (2.2-2.6, 4). Where Walmart's behaviour is
undocumented the simulator picks the stricter reading, because its job is to make the
vault's mistakes visible:

* ``WM_MARKET`` defaults to ``US`` when absent (MX auth page) and must equal the market the
  OAuth client was registered in (case-insensitive), on the token call and on every call
  made with its token - so a vault that forgets ``WM_MARKET`` outside the US fails here;
* checks run headers (400) -> credentials (401) -> request details (400), so a test can aim
  at exactly one failure;
* ``Authorization: Bearer`` is never accepted in place of ``WM_SEC.ACCESS_TOKEN`` (2.5); an
  ``Authorization`` header sent *alongside* a valid token is ignored, as in legacy MX;
* ``/v3/token/detail`` needs ``Authorization: Basic`` of the token's own client besides the
  token (Walmart's current sample and the 2023 US spec send it); its ``is_valid`` and
  ``is_channel_match`` are what the client was registered with;
* MX and CL clients need ``Authorization: Basic`` (their own) and ``WM_CONSUMER.CHANNEL.TYPE``
  on every call made with their token (:data:`.gateway.BASIC_AND_CHANNEL_MARKETS`);
* ``Accept: application/xml`` gets a small XML body, anything else JSON; bodies of any size
  are streamed (:mod:`.bodies`), and ``GET /v3/reports/download?bytes=N`` sends N bytes.

Handlers note on the request's :class:`RequestRecord` which scheme they checked and whether
auth passed; :mod:`.middleware` stores the record with the final status.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import app_grants, bodies, errors
from .gateway import (
    ACCESS_TOKEN,
    ALL_METHODS,
    BASIC_AND_CHANNEL_MARKETS,
    CHANNEL_TYPE,
    CORRELATION_ID,
    SVC_NAME,
    basic_credentials,
    basic_mismatch,
    header,
    market_mismatch,
    record_of,
    require,
)
from .models import IssuedToken, OAuthClient, RequestRecord
from .state import SimulatorState

_BAD_BASIC = (
    "Unauthorized token or incorrect authorization header. Please verify correct format: "
    '"Authorization: Basic Base64Encode(clientId:clientSecret)"'
)


class WalmartApi:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        # The /v3/ catch-all must come after the signed /v3/ca/ routes (app.py orders them).
        return [
            Route("/v3/token", self.token, methods=["POST"]),
            Route("/v3/token/detail", self.token_detail, methods=["GET"]),
            Route("/v3/{rest:path}", self.oauth_api, methods=ALL_METHODS),
        ]

    async def token(self, request: Request) -> Response:
        record = record_of(request)
        record.auth = "token"
        body = await request.body()  # read before touching state: no await past this point
        if app_grants.grant_type(body) in app_grants.APP_GRANTS:
            return app_grants.answer(self.state, request, body, record)
        creds = basic_credentials(request.headers.get("authorization", ""))
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
        token_type = self.state.settings.token_type
        return JSONResponse(
            {"access_token": token, "token_type": token_type, "expires_in": lifetime}
        )

    def _token_failure(
        self, request: Request, body: bytes, creds: tuple[str, str] | None
    ) -> Response | None:
        missing = require(request, SVC_NAME, CORRELATION_ID)
        if missing is not None:
            return missing
        client = self.state.oauth_clients.get(creds[0]) if creds else None
        if creds is None or client is None:
            return errors.unauthorized(_BAD_BASIC)
        if not hmac.compare_digest(creds[1].encode(), client.client_secret.encode()):
            return errors.unauthorized("Invalid client credentials")
        market = market_mismatch(request, client)
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
        token = header(request, ACCESS_TOKEN)
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
        client = self.state.client_of(info)
        market = market_mismatch(request, client)
        if market is not None:
            return market
        self.state.app_store.activate(info.refresh_token)  # first use of a rotated pair
        return info, client

    async def token_detail(self, request: Request) -> Response:
        record = record_of(request)
        record.auth = "token_detail"
        checked = require(request, SVC_NAME, CORRELATION_ID) or self._live_token(request, record)
        if isinstance(checked, Response):
            record.auth_passed = False
            return checked
        info, client = checked
        bad_basic = basic_mismatch(request, client, _BAD_BASIC)
        if bad_basic is not None:
            record.auth_passed = False
            return bad_basic
        record.auth_passed = True
        sent_channel = header(request, CHANNEL_TYPE).lower()
        channel_match = client.channel_type is None or client.channel_type.lower() == sent_channel
        return JSONResponse(
            {
                "expire_at": str(info.expire_at_ms),
                "issued_at": str(info.issued_at_ms),
                "is_valid": client.token_valid,
                "is_channel_match": channel_match,
                "scopes": dict(client.scopes),
            }
        )

    async def oauth_api(self, request: Request) -> Response:
        record = record_of(request)
        record.auth = "oauth"
        # Drain the body before deciding, as a gateway would, without keeping it.
        size, digest = await bodies.drain(request)
        checked = require(request, SVC_NAME, CORRELATION_ID) or self._live_token(request, record)
        if not isinstance(checked, Response) and checked[1].market in BASIC_AND_CHANNEL_MARKETS:
            latam = require(request, CHANNEL_TYPE) or basic_mismatch(
                request, checked[1], _BAD_BASIC
            )
            checked = latam if latam is not None else checked
        if isinstance(checked, Response):
            record.auth_passed = False
            return checked
        record.auth_passed = True
        path = request.url.path
        if request.method == "GET" and path == "/v3/reports/download":
            return bodies.download(request)
        answer: dict[str, object] = {"ok": True, "path": path}
        if request.method not in ("GET", "HEAD"):
            answer |= {"method": request.method, "body_bytes": size, "sha256": digest}
        if request.headers.get("accept", "").startswith("application/xml"):
            fields = "".join(f"<{k}>{v}</{k}>" for k, v in answer.items())
            return Response(f"<response>{fields}</response>", media_type="application/xml")
        return JSONResponse(answer)
