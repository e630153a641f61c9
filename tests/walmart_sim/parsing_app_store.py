"""Validation of the App Store control bodies (apps, revocation, settings)."""

from __future__ import annotations

from .app_store_models import App, AppStoreSettings
from .parsing import BadInput, JsonObject, _int, _text


def parse_app(data: JsonObject) -> App:
    uris = data.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise BadInput("'redirect_uris' must be a non-empty list of URLs")
    rotate, at_once = _flag(data, "rotate_refresh_tokens"), _flag(data, "retire_at_once")
    return App(_text(data, "client_id"), _text(data, "client_secret"), list(uris), rotate, at_once)


def _flag(data: JsonObject, name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise BadInput(f"'{name}' must be true or false")
    return value


def seller_of(data: JsonObject) -> str:
    return _text(data, "seller_id")


def apply_app_store_settings(settings: AppStoreSettings, data: JsonObject) -> None:
    seller = _text(data, "consent_seller_id", settings.consent_seller_id)
    code = _int(data, "code_lifetime_seconds", settings.code_lifetime_seconds)
    refresh = _int(data, "refresh_token_lifetime_seconds", settings.refresh_token_lifetime_seconds)
    refused = _int(data, "refused_refresh_status", settings.refused_refresh_status)
    if code < 1 or refresh < 1:
        raise BadInput("lifetimes must be >= 1 second")
    if refused not in (400, 401):
        raise BadInput("'refused_refresh_status' must be 400 or 401")
    settings.consent_seller_id, settings.code_lifetime_seconds = seller, code
    settings.refresh_token_lifetime_seconds, settings.refused_refresh_status = refresh, refused
