"""Plain records the simulator keeps: registered keys, tokens, settings, faults, request log.

They are dataclasses without behaviour beyond JSON conversion; all mutation goes through
:class:`tests.walmart_sim.state.SimulatorState` so there is one place to reason about
concurrency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

FaultMode = Literal["status", "slow", "garbage", "reset", "body"]
FAULT_MODES: tuple[FaultMode, ...] = ("status", "slow", "garbage", "reset", "body")

# What /v3/token/detail reports when a client was registered without explicit scopes:
# full access to the categories Walmart lists (reference section 2.4).
DEFAULT_SCOPES: dict[str, str] = {
    "item": "full_access",
    "order": "full_access",
    "price": "full_access",
    "inventory": "full_access",
    "feeds": "full_access",
    "reports": "full_access",
    "returns": "full_access",
    "fulfillment": "full_access",
}


@dataclass
class OAuthClient:
    """A Client ID / Client Secret pair as Walmart's Developer Portal issues it."""

    client_id: str
    client_secret: str
    market: str = "US"
    channel_type: str | None = None
    scopes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SCOPES))
    token_valid: bool = True  # what /v3/token/detail reports as is_valid

    def public_json(self) -> dict[str, object]:
        # Never echo the secret back: the simulator's control API should not become a place
        # where test output leaks secrets in a form someone copies into a bug report.
        return {
            "client_id": self.client_id,
            "market": self.market,
            "channel_type": self.channel_type,
            "token_valid": self.token_valid,
        }


@dataclass
class Consumer:
    """A legacy Consumer ID whose private key the seller holds; Walmart keeps the public half."""

    consumer_id: str
    public_key: RSAPublicKey
    channel_type: str | None = None

    def public_json(self) -> dict[str, object]:
        return {
            "consumer_id": self.consumer_id,
            "channel_type": self.channel_type,
            "key_size": self.public_key.key_size,
        }


@dataclass
class IssuedToken:
    client_id: str
    issued_at_ms: int
    expire_at_ms: int
    # App Store tokens: the seller they act for, their market, and the refresh token whose
    # grant issued them (its first use activates that refresh token, see ``app_store``).
    seller_id: str | None = None
    market: str = "US"
    refresh_token: str | None = None


@dataclass
class Settings:
    token_lifetime_seconds: int = 900
    timestamp_window_seconds: float = 300.0
    # Walmart answers an expired token with 401 UNAUTHORIZED or with 400 INVALID_TOKEN
    # depending on the path and era (reference 2.6); the vault must handle both.
    expired_token_status: int = 401
    # Walmart documents "Bearer"; a test sets another to see the vault report it.
    token_type: str = "Bearer"

    def to_json(self) -> dict[str, object]:
        return {
            "token_lifetime_seconds": self.token_lifetime_seconds,
            "timestamp_window_seconds": self.timestamp_window_seconds,
            "expired_token_status": self.expired_token_status,
            "token_type": self.token_type,
        }


@dataclass
class Fault:
    path_prefix: str
    mode: FaultMode
    status: int = 500
    # Seconds, or any raw header value (an HTTP date, or a hostile "1e999").
    retry_after: int | str | None = None
    delay_seconds: float = 0.0
    times: int | None = None  # remaining applications; None = until cleared
    code: str | None = None  # overrides the error code of a "status" fault
    body: str | None = None  # what a "body" fault answers, as given (a hostile JSON text)

    def to_json(self) -> dict[str, object]:
        return {
            "path_prefix": self.path_prefix,
            "mode": self.mode,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay_seconds": self.delay_seconds,
            "times": self.times,
            "code": self.code,
            "body": self.body,
        }


@dataclass
class RequestRecord:
    """One Walmart-side request as the simulator saw it.

    Header *names* only (plus the Authorization scheme word and the correlation id, which
    are not secrets): tests assert which headers the vault handed out without the log ever
    holding a token, secret or signature.
    """

    at_ms: int
    method: str
    path: str
    raw_url: str
    headers: list[str]
    authorization_scheme: str | None = None
    correlation_id: str | None = None
    auth: str | None = None  # "token", "token_detail", "oauth", "signature" or None
    auth_passed: bool | None = None
    principal: str | None = None  # client_id or consumer_id the request claimed
    status: int | None = None  # None when the connection was reset without a response
    fault: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "at_ms": self.at_ms,
            "method": self.method,
            "path": self.path,
            "raw_url": self.raw_url,
            "headers": list(self.headers),
            "authorization_scheme": self.authorization_scheme,
            "correlation_id": self.correlation_id,
            "auth": self.auth,
            "auth_passed": self.auth_passed,
            "principal": self.principal,
            "status": self.status,
            "fault": self.fault,
        }
