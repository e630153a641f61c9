"""Pure ASGI middleware: request ids, the body size limit, and one log line per request."""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ops.metrics import REQUEST_SECONDS, REQUESTS

log = logging.getLogger("vault.request")

MAX_BODY_BYTES = 64 * 1024
# The proxy streams feeds of tens of MB through to Walmart without holding them: no limit.
STREAMED_PREFIX = "/v1/proxy/"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI's body parsing re-raises it
    as is instead of turning it into a 400."""

    def __init__(self) -> None:
        super().__init__(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if scope["path"].startswith(STREAMED_PREFIX):
                await self.app(scope, receive, send_with_id)
            elif _declared_length(scope) > MAX_BODY_BYTES:
                await _too_large(send_with_id)
            else:
                await self.app(scope, _limited(receive), send_with_id)
        except BodyTooLarge:
            await _too_large(send_with_id)
        finally:
            _log_request(scope, status, started, request_id)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _limited(receive: Receive) -> Receive:
    """Count streamed body bytes too: Content-Length can be absent (chunked) or wrong."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise BodyTooLarge
        return message

    return limited


async def _too_large(send: Send) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"The request body is larger than {MAX_BODY_BYTES} bytes.",
                "details": {"limit_bytes": MAX_BODY_BYTES},
            }
        }
    ).encode()
    await send_json(send, 413, body)


async def send_json(send: Send, status: int, body: bytes) -> None:
    """A whole JSON answer straight to the server, for ASGI code below no framework."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@functools.lru_cache(maxsize=1024)
def _request_metrics(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    """The labelled series of one (route template, method, status): a bounded set, looked up
    once instead of through the metrics' locks on every request."""
    return REQUESTS.labels(route, method, str(status)), REQUEST_SECONDS.labels(route, method)


def _log_request(scope: Scope, status: int, started: float, request_id: str) -> None:
    route: Any = scope.get("route")
    path = getattr(route, "path", None) or "unmatched"
    elapsed = time.perf_counter() - started
    count, duration = _request_metrics(path, scope["method"], status)
    count.inc()
    duration.observe(elapsed)
    if not log.isEnabledFor(logging.INFO):
        return
    state = scope.get("state", {})
    log.info(
        "request",
        extra={
            "request_id": request_id,
            "client_id": state.get("client_id"),
            "method": scope["method"],
            "route": path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
        },
    )
