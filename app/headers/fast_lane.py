"""The two header-issuing routes without FastAPI's per-request machinery.

Other services call these once per Walmart request, so their overhead is the vault's price.
Profiling the benchmark (``make bench`` with ``--profile``) showed routing, dependency solving
and request objects costing about as much as the RSA signature itself. This ASGI middleware
answers a well-formed, authorized request directly, with the same parts as the FastAPI routes:
the caller directory, the ``headers:issue`` scope, the request models, the ``HeaderIssuer`` and
the app's own exception handlers.

Anything it does not fully accept (no or bad token, missing scope, a body or path the models
refuse, another content type) goes untouched, body replayed, to the FastAPI routes, which stay
the documented source of every such answer. It gives up before doing anything with a side
effect, so a request handled either way is handled once.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import Caller
from app.errors import Unauthenticated
from app.fields import AccountId
from app.headers.router import router
from app.headers.schemas import AccountHeadersRequest, HeadersOut, HeadersRequest
from app.headers.service import HeaderIssuer
from app.ops.middleware import send_json

CREDENTIAL_ROUTE = "/v1/credentials/{credential_id}/headers"
ACCOUNT_ROUTE = "/v1/accounts/{account_id}/headers"
_CREDENTIAL_PATH = re.compile(
    r"/v1/credentials/([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})/headers"
)
_ACCOUNT_PATH = re.compile(r"/v1/accounts/([^/]+)/headers")
_ROUTES = {route.path: route for route in router.routes if hasattr(route, "path")}
_ACCOUNT_ID: TypeAdapter[str] = TypeAdapter(AccountId)
_JSON = re.compile(rb"application/json\s*(;.*)?", re.IGNORECASE | re.DOTALL)

Issue = Callable[[HeaderIssuer, Caller], Awaitable[HeadersOut]]


class HeadersFastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        route, path_value = _route_of(scope["path"])
        if route is None or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTES[route]  # the request log and metrics name it, even a 413
        body, receive = await _buffered(receive)
        issue = _parsed(route, path_value, body) if body is not None else None
        if issue is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        vault = scope["app"].state.vault
        try:
            caller = await vault.callers.authenticate(
                _header(scope, b"authorization"), state.get("request_id")
            )
        except Unauthenticated:
            await self.app(scope, receive, send)
            return
        except Exception as exc:
            await _render(scope, receive, send, exc)
            return
        if not caller.has_scope("headers:issue"):
            await self.app(scope, receive, send)
            return
        state["client_id"] = str(caller.client_id)
        try:
            issued = await issue(vault.issuer, caller)
        except Exception as exc:
            await _render(scope, receive, send, exc)
            return
        await send_json(send, 200, issued.model_dump_json().encode())


def _parsed(route: str, path_value: str, body: bytes) -> Issue | None:
    """The issuance the request asks for, parsed exactly as the FastAPI route would parse
    it (``json.loads``, then the same models); None if anything is refused."""
    try:
        document = json.loads(body)
        if route == CREDENTIAL_ROUTE:
            credential_id = uuid.UUID(path_value)
            request = HeadersRequest.model_validate(document)
            return lambda issuer, caller: issuer.for_credential(
                caller=caller,
                credential_id=credential_id,
                method=request.method,
                url=request.url,
                accept=request.accept,
            )
        account_id = _ACCOUNT_ID.validate_python(path_value)
        by_account = AccountHeadersRequest.model_validate(document)
    except (ValueError, RecursionError):  # JSON, UUID and pydantic errors are ValueErrors
        return None
    return lambda issuer, caller: issuer.for_account(
        caller=caller,
        account_id=account_id,
        market=by_account.market,
        environment=by_account.environment,
        method=by_account.method,
        url=by_account.url,
        accept=by_account.accept,
    )


async def _render(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer ``exc`` with the app's own exception handler, as the FastAPI route would."""
    handler = _handler_for(scope["app"].exception_handlers, exc)
    if handler is None:
        raise exc
    response = await handler(Request(scope, receive), exc)
    await response(scope, receive, send)


def _route_of(path: str) -> tuple[str | None, str]:
    if match := _CREDENTIAL_PATH.fullmatch(path):
        return CREDENTIAL_ROUTE, match[1]
    if match := _ACCOUNT_PATH.fullmatch(path):
        return ACCOUNT_ROUTE, match[1]
    return None, ""


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            text: str = value.decode("latin-1")
            return text
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return _JSON.fullmatch(value) is not None
    return False


async def _buffered(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (None if the client left first), and a ``receive`` that hands every
    message out again, in order, for the FastAPI route."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            body = None
            break
        if not message.get("more_body", False):
            body = b"".join(m.get("body", b"") for m in messages)
            break
    pending = iter(messages)

    async def replay() -> Message:
        return next(pending, None) or await receive()

    return body, replay


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The app's handler for ``exc``, looked up the way Starlette does (nearest base class).
    Not the catch-all ``Exception`` one: Starlette runs that outside the middleware and then
    re-raises for the server's log, so an unexpected error is left to take the same way."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
