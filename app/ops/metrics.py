"""Prometheus metrics, all named ``vault_*``.

Counters and histograms are process-wide objects updated on the hot path. With several
uvicorn workers, ``app.serve`` points ``PROMETHEUS_MULTIPROC_DIR`` and ``VAULT_METRICS_DIR``
at one fresh folder, prometheus-client keeps each worker's values in files there, and a
scrape of any worker returns the sum over all of them. State that lives in the database
(credentials by status, data keys by KEK) is read at scrape time, cached briefly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Our own registry, not the default one, so every name exposed starts with ``vault_``
# (the process collector is namespaced too).
VAULT_REGISTRY = CollectorRegistry()
ProcessCollector(namespace="vault", registry=VAULT_REGISTRY)

REQUESTS = Counter(
    "vault_http_requests",
    "HTTP requests answered.",
    ["route", "method", "status"],
    registry=VAULT_REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "vault_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=VAULT_REGISTRY,
)
HEADERS_ISSUED = Counter(
    "vault_headers_issued", "Header sets issued.", ["kind"], registry=VAULT_REGISTRY
)
TOKEN_FETCHES = Counter(
    "vault_token_fetches", "Token calls made to Walmart.", ["outcome"], registry=VAULT_REGISTRY
)
TOKEN_CACHE_HITS = Counter(
    "vault_token_cache_hits",
    "Headers served from a cached token.",
    ["layer"],
    registry=VAULT_REGISTRY,
)
# How the headers path's caches fare: a worker answers from memory, or reads the credential
# (``VAULT_SNAPSHOT_CACHE_SIZE``) and unseals and sets up its key (``VAULT_KEY_CACHE_MB``).
SNAPSHOT_READS = Counter(
    "vault_snapshot_reads",
    "Credentials the headers path asked the database for: cache misses, and rechecks where no "
    "change listener vouched for the cached copy.",
    registry=VAULT_REGISTRY,
)
SNAPSHOT_READ_STATEMENTS = Counter(
    "vault_snapshot_read_statements",
    "Statements those reads took (on PostgreSQL, reads asked for together share one).",
    registry=VAULT_REGISTRY,
)
KEY_CACHE_MISSES = Counter(
    "vault_key_cache_misses",
    "Signing keys a worker unsealed and set up (headers and live tests) because its key cache "
    "did not hold them.",
    registry=VAULT_REGISTRY,
)
TESTS = Counter(
    "vault_credential_tests",
    "Live credential tests.",
    ["outcome", "trigger"],
    registry=VAULT_REGISTRY,
)
UNKNOWN_TOKENS = Counter(
    "vault_public_unknown_tokens",
    "Public page requests with a link token or callback state the vault never issued.",
    ["page"],
    registry=VAULT_REGISTRY,
)

WEBHOOK_LATENCY = Histogram(
    "vault_webhook_delivery_latency_seconds",
    "From an event's commit to its successful delivery (retries included).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
    registry=VAULT_REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "vault_webhook_attempts",
    "Webhook delivery attempts.",
    ["outcome"],
    registry=VAULT_REGISTRY,
)
WEBHOOK_FAILURES = Counter(
    "vault_webhook_delivery_failures",
    "Failed webhook delivery attempts by endpoint.",
    ["endpoint_id"],
    registry=VAULT_REGISTRY,
)
WEBHOOK_DISABLED = Counter(
    "vault_webhook_endpoints_disabled",
    "Webhook endpoints disabled because they kept failing.",
    ["endpoint_id"],
    registry=VAULT_REGISTRY,
)

REFRESH_WINDOWS = (7, 30)  # days
DatabaseSnapshot = tuple[dict[str, int], dict[tuple[str, str, bool], int]]


class DatabaseCollector(Collector):
    """Gauges read from the database when scraped (at most every ``ttl`` seconds)."""

    def __init__(self, ttl: float = 15.0) -> None:
        self.ttl = ttl
        self.values: DatabaseSnapshot = ({}, {})
        self.webhooks_pending = 0
        self.kek_wraps: dict[tuple[str, str], int] = {}
        # App Store refresh tokens ending within each window ("7d", "30d"), already ended too.
        self.refresh_expiring: dict[str, int] = {}
        self.read_at = float("-inf")

    def stale(self) -> bool:
        return time.monotonic() - self.read_at > self.ttl

    def update(self, snapshot: DatabaseSnapshot) -> None:
        self.values, self.read_at = snapshot, time.monotonic()

    def backlog(self) -> int:
        return sum(c for (_, _, active), c in self.values[1].items() if not active)

    def collect(self) -> Iterator[Metric]:
        by_status, by_kek = self.values
        credentials = GaugeMetricFamily(
            "vault_credentials", "Live credentials by status.", labels=["status"]
        )
        for status in ("untested", "valid", "invalid", "disabled"):
            credentials.add_metric([status], by_status.get(status, 0))
        yield credentials
        keys = GaugeMetricFamily(
            "vault_data_keys",
            "Sealed values (data keys) by KEK.",
            labels=["provider", "key_id", "active"],
        )
        for (provider, key_id, active), count in sorted(by_kek.items()):
            keys.add_metric([provider, key_id, str(active).lower()], count)
        yield keys
        yield GaugeMetricFamily(
            "vault_data_keys_on_old_keks",
            "Data keys still wrapped by an older KEK.",
            value=self.backlog(),
        )
        wraps = GaugeMetricFamily(
            "vault_kek_wraps",
            "Data keys each KEK has wrapped, ever (AES-GCM with random nonces: rotate the KEK "
            "before 2^32; the vault warns at 2^30).",
            labels=["provider", "key_id"],
        )
        for (provider, key_id), count in sorted(self.kek_wraps.items()):
            wraps.add_metric([provider, key_id], count)
        yield wraps
        yield GaugeMetricFamily(
            "vault_webhook_deliveries_pending",
            "Webhook deliveries not yet made (due, waiting to retry, or behind a failing one).",
            value=self.webhooks_pending,
        )
        expiring = GaugeMetricFamily(
            "vault_refresh_tokens_expiring",
            "App Store connections whose refresh token ends within the window: ask those "
            "sellers to connect again before it does.",
            labels=["within"],
        )
        for window in REFRESH_WINDOWS:
            expiring.add_metric([f"{window}d"], self.refresh_expiring.get(f"{window}d", 0))
        yield expiring


def exposition(database: DatabaseCollector, multiprocess_dir: Path | None) -> bytes:
    """The text format of every metric: summed over workers when running several."""
    if multiprocess_dir is not None:
        workers = CollectorRegistry()
        MultiProcessCollector(workers, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
        counted = generate_latest(workers)
    else:
        counted = generate_latest(VAULT_REGISTRY)
    read = CollectorRegistry()
    read.register(database)
    return counted + generate_latest(read)
