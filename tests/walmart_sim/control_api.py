"""The simulator's control plane under ``/_sim/``: JSON in, JSON out.

Tests and the demo register keys, inject faults and read counters through it, so the same
calls work whether the simulator runs in a thread or in another process. Errors here use a
small ``{"error": {"code", "message"}}`` shape of their own - they are about a test's setup,
not about Walmart, and must never be mistaken for a simulated Walmart answer.

Bodies are validated by :mod:`.parsing`, which also loads the seed file for
``python -m tests.walmart_sim --seed-file`` (same objects as these endpoints take).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .parsing import BadInput, apply_settings, parse_consumer, parse_fault, parse_oauth_client
from .parsing_app_store import apply_app_store_settings, parse_app, seller_of
from .state import SimulatorState


def _fail(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except BadInput as exc:
            return _fail(400, "bad_request", str(exc))

    return wrapped


async def _body(request: Request) -> dict[str, object]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except json.JSONDecodeError as exc:
        raise BadInput(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput("body must be a JSON object")
    return data


class ControlApi:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        def route(path: str, handler: Handler, method: str) -> Route:
            return Route(path, _guarded(handler), methods=[method])

        return [
            route("/_sim/health", self.health, "GET"),
            route("/_sim/oauth-clients", self.add_oauth_client, "POST"),
            route("/_sim/oauth-clients/{client_id}", self.delete_oauth_client, "DELETE"),
            route("/_sim/consumers", self.add_consumer, "POST"),
            route("/_sim/consumers/{consumer_id}", self.delete_consumer, "DELETE"),
            route("/_sim/faults", self.add_fault, "POST"),
            route("/_sim/faults", self.clear_faults, "DELETE"),
            route("/_sim/settings", self.settings, "POST"),
            route("/_sim/expire-tokens", self.expire_tokens, "POST"),
            route("/_sim/reset", self.reset, "POST"),
            route("/_sim/stats", self.stats, "GET"),
            route("/_sim/apps", self.add_app, "POST"),
            route("/_sim/apps/{client_id}/revoke", self.revoke_app, "POST"),
            route("/_sim/app-store/settings", self.app_store_settings, "POST"),
        ]

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def add_oauth_client(self, request: Request) -> Response:
        client = parse_oauth_client(await _body(request))
        self.state.add_oauth_client(client)
        return JSONResponse(client.public_json(), 201)

    async def delete_oauth_client(self, request: Request) -> Response:
        if not self.state.remove_oauth_client(request.path_params["client_id"]):
            return _fail(404, "not_found", "no such OAuth client")
        return JSONResponse({"deleted": True})

    async def add_consumer(self, request: Request) -> Response:
        consumer = parse_consumer(await _body(request))
        self.state.add_consumer(consumer)
        return JSONResponse(consumer.public_json(), 201)

    async def delete_consumer(self, request: Request) -> Response:
        if not self.state.remove_consumer(request.path_params["consumer_id"]):
            return _fail(404, "not_found", "no such consumer")
        return JSONResponse({"deleted": True})

    async def add_fault(self, request: Request) -> Response:
        fault = parse_fault(await _body(request))
        self.state.add_fault(fault)
        return JSONResponse(fault.to_json(), 201)

    async def clear_faults(self, request: Request) -> Response:
        cleared = len(self.state.faults)
        self.state.faults.clear()
        return JSONResponse({"cleared": cleared})

    async def settings(self, request: Request) -> Response:
        apply_settings(self.state, await _body(request))
        return JSONResponse(self.state.settings.to_json())

    async def expire_tokens(self, request: Request) -> Response:
        return JSONResponse({"expired": self.state.expire_tokens()})

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"ok": True})

    async def stats(self, request: Request) -> Response:
        raw_limit = request.query_params.get("limit")
        if raw_limit is not None and not (raw_limit.isascii() and raw_limit.isdigit()):
            raise BadInput("'limit' must be a non-negative integer")
        return JSONResponse(self.state.stats(int(raw_limit) if raw_limit is not None else None))

    async def add_app(self, request: Request) -> Response:
        app = parse_app(await _body(request))
        self.state.app_store.add_app(app)
        return JSONResponse(app.public_json(), 201)

    async def revoke_app(self, request: Request) -> Response:
        """A seller disconnects the app: every refresh and access token they gave it ends."""
        seller_id = seller_of(await _body(request))
        revoked = self.state.app_store.revoke(request.path_params["client_id"], seller_id)
        return JSONResponse({"revoked_refresh_tokens": revoked})

    async def app_store_settings(self, request: Request) -> Response:
        apply_app_store_settings(self.state.app_store.settings, await _body(request))
        return JSONResponse(self.state.app_store.settings.to_json())
