"""Sending one delivery: the body, the Standard Webhooks headers signed with the endpoint's
secret (and the previous one during a rotation's grace period), and the receiver's answer
reduced to an ``Outcome`` (status, latency, error; never the answer's body)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

from app.config import Settings
from app.crypto import Envelope, EnvelopeError, KekUnavailable
from app.db import utcnow
from app.webhooks import signing
from app.webhooks.hosts import host_allowed
from app.webhooks.models import WebhookEndpoint, WebhookEvent

SIGNER_CACHE = 1024
USER_AGENT = "mports-walmart-vault-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def payload(event: WebhookEvent) -> str:
    body = {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


class Sender:
    """Sends deliveries; keeps opened signing secrets by (endpoint, secret version)."""

    def __init__(self, envelope: Envelope, http: httpx.AsyncClient, settings: Settings) -> None:
        self.envelope = envelope
        self.http = http
        self.settings = settings
        self._signers: dict[tuple[uuid.UUID, int], Webhook] = {}

    async def send(
        self, event: WebhookEvent, endpoint: WebhookEndpoint, deadline: float
    ) -> Outcome:
        """One attempt, over by ``deadline`` (the event loop's clock) whatever happens: opening
        the secret (a KMS may be slow) and the receiver's answer both count, since the
        dispatcher's lease on this delivery counts on it."""
        at = utcnow()
        if not host_allowed(httpx.URL(endpoint.url).host, self.settings.webhook_hosts):
            return Outcome(at, None, 0.0, "host_not_allowed")
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                return await self._post(event, endpoint, at, started)
        except TimeoutError:
            return Outcome(at, None, _since(started), "timeout")

    async def _post(
        self, event: WebhookEvent, endpoint: WebhookEndpoint, at: datetime, started: float
    ) -> Outcome:
        try:
            signers = await self._signers_of(endpoint, at)
        except (EnvelopeError, KekUnavailable) as exc:
            return Outcome(at, None, 0.0, f"secret_unavailable:{type(exc).__name__}")
        body = payload(event)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": event.id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signing.signature_header(signers, event.id, at, body),
        }
        try:
            # Streamed and never read: a receiver's answer body is not ours to keep.
            async with self.http.stream(
                "POST",
                endpoint.url,
                content=body.encode(),
                headers=headers,
                timeout=self.settings.webhook_timeout_seconds,
                follow_redirects=False,
            ) as response:
                status: int | None = response.status_code
            error = None if 200 <= response.status_code < 300 else f"http_{status}"
        except httpx.TimeoutException:
            status, error = None, "timeout"
        except httpx.HTTPError as exc:
            status, error = None, type(exc).__name__
        return Outcome(at, status, _since(started), error)

    async def _signers_of(self, endpoint: WebhookEndpoint, now: datetime) -> list[Webhook]:
        signers = [await self._signer(endpoint.id, endpoint.secret_version, endpoint.sealed_secret)]
        previous, until = endpoint.sealed_previous_secret, endpoint.previous_secret_until
        if previous is not None and until is not None and now < until:
            signers.append(await self._signer(endpoint.id, endpoint.secret_version - 1, previous))
        return signers

    async def _signer(self, endpoint_id: uuid.UUID, version: int, sealed: str) -> Webhook:
        key = (endpoint_id, version)
        signer = self._signers.get(key)
        if signer is None:
            if len(self._signers) >= SIGNER_CACHE:
                self._signers.clear()
            signer = await signing.open_signer(self.envelope, sealed, endpoint_id, version)
            self._signers[key] = signer
        return signer


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
