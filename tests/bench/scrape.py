"""What one Prometheus scrape of ``/metrics`` costs, with the database gauges read afresh.

A worker keeps the gauges it read from the database for ``DatabaseCollector().ttl`` seconds,
so each timed scrape waits that long first: every sample then includes the database read,
whichever worker answers it.
"""

from __future__ import annotations

import statistics
import time

import httpx

from app.ops.metrics import DatabaseCollector

SAMPLES = 3


def seconds(vault_url: str, samples: int = SAMPLES) -> list[float]:
    wait = DatabaseCollector().ttl + 0.5
    found = []
    for _ in range(samples):
        time.sleep(wait)
        started = time.perf_counter()
        httpx.get(f"{vault_url}/metrics", timeout=60).raise_for_status()
        found.append(time.perf_counter() - started)
    return found


def shown(times: list[float]) -> str:
    return (
        f"median {statistics.median(times) * 1000:.1f} ms ("
        + ", ".join(f"{t * 1000:.1f}" for t in times)
        + ")"
    )
