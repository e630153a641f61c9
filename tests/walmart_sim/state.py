"""All mutable simulator state, owned by one app instance (no module globals).

Concurrency: the simulator runs on a single asyncio event loop, and every method here is
synchronous, so each read-modify-write (counting a token call, decrementing a fault's
``times``) runs to completion without interleaving another request. Handlers must finish
their ``await``s (reading the body) *before* calling into the state, never in between.
Touching the state from another thread is not safe; tests drive it through the control API.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, deque
from typing import Literal

from .app_store import AppStore
from .app_store_models import App
from .models import Consumer, Fault, IssuedToken, OAuthClient, RequestRecord, Settings

REQUEST_LOG_SIZE = 1000
# Benchmarks may mint many tokens; beyond this the oldest are forgotten (they would answer
# "unknown" instead of "expired", which no test relies on at that volume).
MAX_TOKENS = 100_000

TokenStatus = Literal["live", "expired", "unknown"]


def now_ms() -> int:
    return int(time.time() * 1000)


class SimulatorState:
    def __init__(self) -> None:
        self.epoch = 0
        self.reset()

    def reset(self) -> None:
        """Everything back to empty and default, as if the process had just started. A new
        ``epoch`` begins: requests still in flight from before belong to the old one."""
        self.epoch += 1
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.consumers: dict[str, Consumer] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.settings = Settings()
        self.faults: list[Fault] = []
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)
        self.token_calls: Counter[str] = Counter()
        self.token_failures: Counter[str] = Counter()
        self.tokens_issued = 0
        self.faults_applied = 0
        self.app_store = AppStore(self)

    # --- registration -----------------------------------------------------------------

    def add_oauth_client(self, client: OAuthClient) -> None:
        # Re-registering an id replaces it: that is how a test models "Regenerate Key"
        # (new secret) while keeping the same Client ID.
        self.oauth_clients[client.client_id] = client

    def remove_oauth_client(self, client_id: str) -> bool:
        """Deactivate a client; its tokens stop working at once (they read as unknown)."""
        if self.oauth_clients.pop(client_id, None) is None:
            return False
        for token in [t for t, info in self.tokens.items() if info.client_id == client_id]:
            del self.tokens[token]
        return True

    def add_consumer(self, consumer: Consumer) -> None:
        self.consumers[consumer.consumer_id] = consumer

    def remove_consumer(self, consumer_id: str) -> bool:
        return self.consumers.pop(consumer_id, None) is not None

    # --- tokens -----------------------------------------------------------------------

    def issue_token(self, client: OAuthClient) -> tuple[str, IssuedToken]:
        # Opaque and long like Walmart's JWE tokens (~1 KB in the docs' sample): 480 random
        # bytes give 640 URL-safe characters, which exercises header and column sizes.
        token = secrets.token_urlsafe(480)
        issued = now_ms()
        info = IssuedToken(
            client.client_id, issued, issued + self.settings.token_lifetime_seconds * 1000
        )
        if len(self.tokens) >= MAX_TOKENS:
            del self.tokens[next(iter(self.tokens))]
        self.tokens[token] = info
        self.tokens_issued += 1
        self.token_calls[client.client_id] += 1
        return token, info

    def issue_app_token(
        self, app: App, *, seller_id: str, market: str, refresh_token: str | None
    ) -> tuple[str, IssuedToken]:
        """An access token for a seller through a provider's app (App Store grants)."""
        token = secrets.token_urlsafe(480)
        issued = now_ms()
        expire = issued + self.settings.token_lifetime_seconds * 1000
        info = IssuedToken(app.client_id, issued, expire, seller_id, market, refresh_token)
        self.tokens[token] = info
        self.tokens_issued += 1
        return token, info

    def client_of(self, info: IssuedToken) -> OAuthClient:
        """Who a live token acts as: a registered client, or an app acting for a seller."""
        client = self.oauth_clients.get(info.client_id)
        if client is not None:
            return client
        app = self.app_store.apps[info.client_id]
        return OAuthClient(app.client_id, app.client_secret, market=info.market)

    def token_status(self, token: str) -> tuple[TokenStatus, IssuedToken | None]:
        info = self.tokens.get(token)
        known = info is not None and (
            info.client_id in self.oauth_clients or info.client_id in self.app_store.apps
        )
        if info is None or not known:
            return "unknown", None
        if now_ms() >= info.expire_at_ms:
            return "expired", info
        return "live", info

    def expire_tokens(self) -> int:
        """Make every issued token expired now (they stay known, so they read as expired)."""
        cutoff = now_ms()
        for info in self.tokens.values():
            info.expire_at_ms = min(info.expire_at_ms, cutoff)
        return len(self.tokens)

    def count_token_failure(self, client_id: str) -> None:
        """Key is the Client ID the caller presented ("" when Basic auth was unreadable)."""
        self.token_failures[client_id] += 1

    # --- faults and log ---------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        self.faults.append(fault)

    def take_fault(self, path: str) -> Fault | None:
        """First fault whose prefix matches ``path``; consumes one of its ``times``."""
        for fault in self.faults:
            if path.startswith(fault.path_prefix):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                self.faults_applied += 1
                return fault
        return None

    def record(self, record: RequestRecord) -> None:
        self.requests.append(record)

    def stats(self, limit: int | None = None) -> dict[str, object]:
        records = list(self.requests)
        if limit is not None:
            records = records[-limit:] if limit > 0 else []
        return {
            "token_calls": dict(self.token_calls),
            "token_failures": dict(self.token_failures),
            "tokens_issued": self.tokens_issued,
            "faults_applied": self.faults_applied,
            "active_faults": [fault.to_json() for fault in self.faults],
            "settings": self.settings.to_json(),
            "app_store": self.app_store.stats(),
            "requests": [record.to_json() for record in records],
        }
