"""Validation of control-plane JSON (``/_sim/...`` bodies and the seed file) into models.

Strict on purpose: a typo in a test's setup (``"times": "2"``, ``"mode": "slo"``) should be
a 400 naming the field, not a simulator that silently behaves differently from what the
test believes it configured.
"""

from __future__ import annotations

from typing import cast  # _number returns None only when the default is None

from .models import FAULT_MODES, Consumer, Fault, OAuthClient
from .signature import load_public_key
from .state import SimulatorState

MARKETS = ("US", "CA", "MX", "CL")
JsonObject = dict[str, object]


class BadInput(ValueError):
    """A control request that does not describe a valid setup; answered with 400."""


def _number(data: JsonObject, key: str, default: float | None, integer: bool) -> float | None:
    value = data.get(key, default)
    if value is None:
        return None
    # bool is an int subclass; a JSON true where a number belongs is a caller mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"'{key}' must be a number")
    if integer and not isinstance(value, int):
        raise BadInput(f"'{key}' must be an integer")
    return value


def _int(data: JsonObject, key: str, default: int) -> int:
    return int(cast(float, _number(data, key, default, integer=True)))


def _optional_int(data: JsonObject, key: str) -> int | None:
    value = _number(data, key, None, integer=True)
    return None if value is None else int(value)


def _retry_after(data: JsonObject) -> int | str | None:
    value = data.get("retry_after")
    if isinstance(value, str):
        return value
    return _optional_int(data, "retry_after")


def _float(data: JsonObject, key: str, default: float) -> float:
    return float(cast(float, _number(data, key, default, integer=False)))


def _text(data: JsonObject, key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"'{key}' must be a non-empty string")
    return value


def _optional_text(data: JsonObject, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput(f"'{key}' must be a string or null")
    return value or None


def parse_oauth_client(data: JsonObject) -> OAuthClient:
    market = _text(data, "market", "US").upper()
    if market not in MARKETS:
        raise BadInput(f"'market' must be one of {', '.join(MARKETS)}")
    client = OAuthClient(
        client_id=_text(data, "client_id"),
        client_secret=_text(data, "client_secret"),
        market=market,
        channel_type=_optional_text(data, "channel_type"),
    )
    token_valid = data.get("token_valid", True)
    if not isinstance(token_valid, bool):
        raise BadInput("'token_valid' must be true or false")
    client.token_valid = token_valid
    scopes = data.get("scopes")
    if scopes is not None:
        if not isinstance(scopes, dict):
            raise BadInput('\'scopes\' must be an object like {"item": "full_access"}')
        client.scopes = {str(k): str(v) for k, v in scopes.items()}
    return client


def parse_consumer(data: JsonObject) -> Consumer:
    try:
        key = load_public_key(_text(data, "public_key_pem"))
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    return Consumer(_text(data, "consumer_id"), key, _optional_text(data, "channel_type"))


def parse_fault(data: JsonObject) -> Fault:
    mode = _text(data, "mode")
    if mode not in FAULT_MODES:
        raise BadInput(f"'mode' must be one of {', '.join(FAULT_MODES)}")
    fault = Fault(
        path_prefix=_text(data, "path_prefix", "/v3/"),
        mode=mode,  # narrowed to FaultMode by the check above
        status=_int(data, "status", 500),
        retry_after=_retry_after(data),
        delay_seconds=_float(data, "delay_seconds", 1.0),
        times=_optional_int(data, "times"),
        code=_optional_text(data, "code"),
        body=_optional_text(data, "body"),
    )
    if (fault.mode == "body") != (fault.body is not None):
        raise BadInput("'body' is given with mode 'body', and only then")
    if not 100 <= fault.status <= 599:
        raise BadInput("'status' must be an HTTP status code")
    if fault.delay_seconds < 0:
        raise BadInput("'delay_seconds' must be >= 0")
    if fault.times is not None and fault.times < 1:
        raise BadInput("'times' must be >= 1, or null for 'until cleared'")
    return fault


def apply_settings(state: SimulatorState, data: JsonObject) -> None:
    """Partial update: only the keys present change; all are validated before any change."""
    current = state.settings
    lifetime = _int(data, "token_lifetime_seconds", current.token_lifetime_seconds)
    window = _float(data, "timestamp_window_seconds", current.timestamp_window_seconds)
    expired = _int(data, "expired_token_status", current.expired_token_status)
    token_type = _text(data, "token_type", current.token_type)
    if lifetime < 1:
        raise BadInput("'token_lifetime_seconds' must be >= 1")
    if window < 0:
        raise BadInput("'timestamp_window_seconds' must be >= 0")
    if expired not in (400, 401):
        raise BadInput("'expired_token_status' must be 400 or 401")
    current.token_lifetime_seconds = lifetime
    current.timestamp_window_seconds = window
    current.expired_token_status = expired
    current.token_type = token_type


def _objects(seed: JsonObject, key: str) -> list[JsonObject]:
    items = seed.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise BadInput(f"seed '{key}' must be a list of objects")
    return items


def apply_seed(state: SimulatorState, seed: JsonObject) -> None:
    """Load ``{"oauth_clients": [...], "consumers": [...], "settings": {}, "faults": [...]}``."""
    for item in _objects(seed, "oauth_clients"):
        state.add_oauth_client(parse_oauth_client(item))
    for item in _objects(seed, "consumers"):
        state.add_consumer(parse_consumer(item))
    for item in _objects(seed, "faults"):
        state.add_fault(parse_fault(item))
    settings = seed.get("settings", {})
    if not isinstance(settings, dict):
        raise BadInput("seed 'settings' must be an object")
    apply_settings(state, settings)
