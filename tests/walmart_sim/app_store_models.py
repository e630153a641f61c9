"""Records of the App Store side: solution-provider apps, authorization codes, refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RefreshState = Literal["active", "pending", "retired", "revoked"]
CLIENT_TYPE_MARKETS = {"seller": "US", "seller-ca": "CA", "seller-mx": "MX"}


@dataclass
class App:
    """A solution provider's App Store app: its Client ID / Secret and Auth Callback URLs."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    rotate_refresh_tokens: bool = False
    # Walmart does not document whether a rotated refresh token stops working at once or only
    # once its successor is used: the simulator does either.
    retire_at_once: bool = False

    def public_json(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "redirect_uris": list(self.redirect_uris),
            "rotate_refresh_tokens": self.rotate_refresh_tokens,
            "retire_at_once": self.retire_at_once,
        }


@dataclass
class AuthCode:
    client_id: str
    seller_id: str
    redirect_uri: str
    market: str
    expire_at_ms: int
    used: bool = False


@dataclass
class RefreshToken:
    """``pending``: issued by a rotation and not used yet; the token it replaces stays
    ``active`` until then, so a client that lost the answer can still refresh."""

    client_id: str
    seller_id: str
    market: str
    expire_at_ms: int
    state: RefreshState = "active"
    replaces: str | None = None


@dataclass
class AppStoreSettings:
    consent_seller_id: str = "10000012345"
    code_lifetime_seconds: int = 600
    refresh_token_lifetime_seconds: int = 365 * 24 * 3600
    refused_refresh_status: int = 400  # Walmart may answer 400 invalid_grant or 401

    def to_json(self) -> dict[str, object]:
        return {
            "consent_seller_id": self.consent_seller_id,
            "code_lifetime_seconds": self.code_lifetime_seconds,
            "refresh_token_lifetime_seconds": self.refresh_token_lifetime_seconds,
            "refused_refresh_status": self.refused_refresh_status,
        }


@dataclass
class AppStoreCounters:
    grants: dict[str, int] = field(default_factory=dict)  # grant_type -> answered calls
    refused: dict[str, int] = field(default_factory=dict)  # grant_type -> refused calls

    def count(self, grant: str, *, ok: bool) -> None:
        target = self.grants if ok else self.refused
        target[grant] = target.get(grant, 0) + 1
