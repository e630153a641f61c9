"""The simulator's control plane under ``/_sim/``: JSON in, JSON out.

Tests and the demo register keys, inject faults and read counters through it, so the same
calls work whether the simulator runs in a thread or in another process. Errors here use a
small ``{"error": {"code", "message"}}`` shape of their own - they are about a test's setup,
not about Walmart, and must never be mistaken for a simulated Walmart answer.

A seed file for ``python -m tests.walmart_sim --seed-file`` holds the same objects:
``{"oauth_clients": [...], "consumers": [...], "settings": {...}, "faults": [...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .models import FAULT_MODES, Consumer, Fault, OAuthClient
from .signature import load_public_key
from .state import SimulatorState

MARKETS = ("US", "CA", "MX", "CL")
_MISSING = object()


class BadInput(ValueError):
    """A control request that does not describe a valid setup; answered with 400."""


def _field(data: dict[str, object], key: str, kind: type, default: object = _MISSING) -> object:
    value = data.get(key, default)
    if value is _MISSING:
        raise BadInput(f"'{key}' is required")
    if value is None and default is None:
        return None
    # bool is an int subclass; a JSON true where a number belongs is a caller mistake.
    if isinstance(value, bool) and kind is not bool:
        raise BadInput(f"'{key}' must be {kind.__name__}")
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, kind):
        raise BadInput(f"'{key}' must be {kind.__name__}")
    return value


def _text(data: dict[str, object], key: str) -> str:
    value = _field(data, key, str)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"'{key}' must be a non-empty string")
    return value


def _optional_text(data: dict[str, object], key: str) -> str | None:
    value = _field(data, key, str, None)
    return value if isinstance(value, str) and value else None


def parse_oauth_client(data: dict[str, object]) -> OAuthClient:
    market = str(_field(data, "market", str, "US")).upper()
    if market not in MARKETS:
        raise BadInput(f"'market' must be one of {', '.join(MARKETS)}")
    client = OAuthClient(
        _text(data, "client_id"),
        _text(data, "client_secret"),
        market,
        _optional_text(data, "channel_type"),
    )
    scopes = _field(data, "scopes", dict, None)
    if isinstance(scopes, dict):
        client.scopes = {str(k): str(v) for k, v in scopes.items()}
    return client


def parse_consumer(data: dict[str, object]) -> Consumer:
    try:
        key = load_public_key(_text(data, "public_key_pem"))
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    return Consumer(_text(data, "consumer_id"), key, _optional_text(data, "channel_type"))


def parse_fault(data: dict[str, object]) -> Fault:
    mode = _field(data, "mode", str)
    if mode not in FAULT_MODES:
        raise BadInput(f"'mode' must be one of {', '.join(FAULT_MODES)}")
    status = _field(data, "status", int, 500)
    retry_after = _field(data, "retry_after", int, None)
    delay = _field(data, "delay_seconds", float, 1.0)
    times = _field(data, "times", int, None)
    assert isinstance(status, int) and isinstance(delay, float)
    if not 100 <= status <= 599:
        raise BadInput("'status' must be an HTTP status code")
    if delay < 0 or (isinstance(times, int) and times < 1):
        raise BadInput("'delay_seconds' must be >= 0 and 'times' >= 1 (or null)")
    return Fault(
        path_prefix=str(_field(data, "path_prefix", str, "/v3/")),
        mode=mode,
        status=status,
        retry_after=retry_after if isinstance(retry_after, int) else None,
        delay_seconds=delay,
        times=times if isinstance(times, int) else None,
        code=_optional_text(data, "code"),
    )


def apply_settings(state: SimulatorState, data: dict[str, object]) -> None:
    """Partial update: only the keys present change."""
    current = state.settings
    lifetime = _field(data, "token_lifetime_seconds", int, current.token_lifetime_seconds)
    window = _field(data, "timestamp_window_seconds", float, current.timestamp_window_seconds)
    expired = _field(data, "expired_token_status", int, current.expired_token_status)
    assert isinstance(lifetime, int) and isinstance(window, float) and isinstance(expired, int)
    if lifetime < 1 or window < 0 or expired not in (400, 401):
        raise BadInput("need token_lifetime_seconds >= 1, window >= 0, expired status 400|401")
    current.token_lifetime_seconds, current.timestamp_window_seconds = lifetime, window
    current.expired_token_status = expired


def apply_seed(state: SimulatorState, seed: dict[str, object]) -> None:
    for key, parse, add in (
        ("oauth_clients", parse_oauth_client, state.add_oauth_client),
        ("consumers", parse_consumer, state.add_consumer),
        ("faults", parse_fault, state.add_fault),
    ):
        items = seed.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise BadInput(f"seed '{key}' must be a list of objects")
        for item in items:
            add(parse(item))  # type: ignore[operator]
    settings = seed.get("settings", {})
    if not isinstance(settings, dict):
        raise BadInput("seed 'settings' must be an object")
    apply_settings(state, settings)


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
