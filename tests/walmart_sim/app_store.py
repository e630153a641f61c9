"""App Store OAuth state: apps, single-use authorization codes, refresh tokens and rotation.

Rotation (off unless an app asks for it) follows the safe reading of Walmart's undocumented
behaviour: a refresh answers a new refresh token as ``pending`` and keeps the old one
``active`` until the new pair is first used (its access token on an API call, or the new
refresh token on a refresh). Only then is the old one retired. A client that crashed before
storing the answer can therefore still refresh with the old token, while one that used the
new access token without keeping the new refresh token has lost its connection. Revocation
(a seller disconnecting the app) ends every refresh and access token of that seller and app.

All methods are synchronous; see :mod:`.state` for why that makes them atomic.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from .app_store_models import (
    App,
    AppStoreCounters,
    AppStoreSettings,
    AuthCode,
    RefreshToken,
)

if TYPE_CHECKING:
    from .state import SimulatorState


def _now_ms() -> int:
    return int(time.time() * 1000)


class GrantRefused(Exception):
    """The grant is not valid (OAuth's ``invalid_grant``); the message says why."""


class AppStore:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.apps: dict[str, App] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.used_nonces: set[str] = set()
        self.settings = AppStoreSettings()
        self.counters = AppStoreCounters()

    def add_app(self, app: App) -> None:
        self.apps[app.client_id] = app

    def issue_code(
        self, app: App, *, seller_id: str, redirect_uri: str, market: str, nonce: str
    ) -> str:
        self.used_nonces.add(nonce)
        code = secrets.token_urlsafe(24)
        expire = _now_ms() + self.settings.code_lifetime_seconds * 1000
        self.codes[code] = AuthCode(app.client_id, seller_id, redirect_uri, market, expire)
        return code

    def redeem_code(
        self, app: App, code: str, *, seller_id: str, redirect_uri: str
    ) -> tuple[str, RefreshToken]:
        found = self.codes.get(code)
        if found is None or found.client_id != app.client_id:
            raise GrantRefused("unknown authorization code")
        if found.used:
            raise GrantRefused("authorization code already used")
        found.used = True  # a refused attempt spends the code too, as OAuth servers do
        if _now_ms() >= found.expire_at_ms:
            raise GrantRefused("authorization code expired")
        if found.redirect_uri != redirect_uri:
            raise GrantRefused("redirect_uri does not match the consent request")
        if found.seller_id != seller_id:
            raise GrantRefused("WM_PARTNER.ID is not the seller who authorized")
        return self._new_refresh_token(app, seller_id, found.market, state="active")

    def refresh(self, app: App, token: str, *, seller_id: str) -> tuple[str | None, RefreshToken]:
        """The refresh token to answer (``None`` without rotation) and the one in use."""
        found = self.refresh_tokens.get(token)
        if found is None or found.client_id != app.client_id:
            raise GrantRefused("unknown refresh token")
        if found.seller_id != seller_id:
            raise GrantRefused("WM_PARTNER.ID does not match the refresh token")
        if found.state in ("retired", "revoked"):
            raise GrantRefused(f"refresh token {found.state}")
        if _now_ms() >= found.expire_at_ms:
            raise GrantRefused("refresh token expired")
        if found.state == "pending":
            self.activate(token)
        if not app.rotate_refresh_tokens:
            return None, found
        # An unused successor from an earlier answer was lost by the client: drop it.
        for other in self.refresh_tokens.values():
            if other.replaces == token and other.state == "pending":
                other.state = "retired"
        new, record = self._new_refresh_token(app, seller_id, found.market, state="pending")
        record.replaces = token
        if app.retire_at_once:
            self.activate(new)
        return new, record

    def activate(self, token: str | None) -> None:
        """First use of a rotated pair: its refresh token becomes the one, the old retires."""
        found = self.refresh_tokens.get(token or "")
        if found is None or found.state != "pending":
            return
        found.state = "active"
        replaced = self.refresh_tokens.get(found.replaces or "")
        if replaced is not None and replaced.state == "active":
            replaced.state = "retired"

    def revoke(self, client_id: str, seller_id: str) -> int:
        revoked = 0
        for record in self.refresh_tokens.values():
            if (record.client_id, record.seller_id) == (client_id, seller_id):
                revoked += record.state != "revoked"
                record.state = "revoked"
        tokens = self.state.tokens
        for access, info in list(tokens.items()):
            if (info.client_id, info.seller_id) == (client_id, seller_id):
                del tokens[access]
        return revoked

    def _new_refresh_token(
        self, app: App, seller_id: str, market: str, *, state: str
    ) -> tuple[str, RefreshToken]:
        token = secrets.token_urlsafe(48)
        lifetime = self.settings.refresh_token_lifetime_seconds * 1000
        record = RefreshToken(app.client_id, seller_id, market, _now_ms() + lifetime)
        record.state = "pending" if state == "pending" else "active"
        self.refresh_tokens[token] = record
        return token, record

    def stats(self) -> dict[str, object]:
        states: dict[str, int] = {}
        for record in self.refresh_tokens.values():
            states[record.state] = states.get(record.state, 0) + 1
        return {
            "grants": dict(self.counters.grants),
            "refused": dict(self.counters.refused),
            "refresh_tokens": states,
            "settings": self.settings.to_json(),
        }
