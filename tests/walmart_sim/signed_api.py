"""Walmart's legacy signed side: every path under ``/v3/ca/`` (reference 1.2-1.7, 5).

Required headers: ``WM_CONSUMER.ID`` (a registered consumer), ``WM_SEC.TIMESTAMP`` (epoch
ms within the configured window, 300 s by default - Walmart documents none for CA, 15 min
for its sibling gateways; a tight window catches stale or pre-computed signatures),
``WM_SEC.AUTH_SIGNATURE``, ``WM_CONSUMER.CHANNEL.TYPE`` (equal to the registered one, if
any; CA calls it mandatory for V3), ``WM_SVC.NAME`` and ``WM_QOS.CORRELATION_ID``.

The signature is checked against the URL as received on the wire (see :mod:`.signature`)
and the method from the request line. Every auth failure is 401
``UNAUTHORIZED.GMP_GATEWAY_API``, as Walmart answers a bad signature; a missing header is
400 ``MISSING_REQUEST_HEADER.GMP_GATEWAY_API``.

After auth: ``GET /v3/ca/feeds`` answers an empty feed list (the cheap call the vault's
credential test makes), other reads ``{"ok": true}``, writes echo method, path and body size.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import errors
from .gateway import (
    ALL_METHODS,
    CHANNEL_TYPE,
    CORRELATION_ID,
    SIGNATURE_HEADERS,
    SVC_NAME,
    header,
    record_of,
    require,
)
from .models import RequestRecord
from .signature import verify_signature, wire_url
from .state import SimulatorState, now_ms


class SignedApi:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [Route("/v3/ca/{rest:path}", self.signed_api, methods=ALL_METHODS)]

    async def signed_api(self, request: Request) -> Response:
        record = record_of(request)
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
        missing = require(request, *SIGNATURE_HEADERS, SVC_NAME, CORRELATION_ID)
        if missing is not None:
            return missing
        consumer_id = header(request, "WM_CONSUMER.ID")
        record.principal = consumer_id
        consumer = self.state.consumers.get(consumer_id)
        if consumer is None:
            return errors.unauthorized("Unknown or deactivated consumer id")
        channel = header(request, CHANNEL_TYPE)
        if consumer.channel_type is not None and consumer.channel_type.lower() != channel.lower():
            return errors.unauthorized("WM_CONSUMER.CHANNEL.TYPE does not match this consumer")
        timestamp = header(request, "WM_SEC.TIMESTAMP")
        if not (timestamp.isascii() and timestamp.isdigit()):
            return errors.unauthorized("WM_SEC.TIMESTAMP must be epoch milliseconds")
        window_ms = self.state.settings.timestamp_window_seconds * 1000
        if abs(now_ms() - int(timestamp)) > window_ms:
            return errors.unauthorized("WM_SEC.TIMESTAMP is outside the accepted window")
        url = wire_url(request.scope)
        signature = header(request, "WM_SEC.AUTH_SIGNATURE")
        if not verify_signature(
            consumer.public_key, signature, consumer_id, url, request.method, timestamp
        ):
            return errors.unauthorized(f"Signature does not verify for {request.method} {url}")
        return None
