"""Webhook delivery latency: from an event's write (in the transaction of its change) to its
arrival, signed and verified, at a real receiver on loopback.

Events are real ``credential.disabled`` events: ``credentials`` OAuth credentials are toggled
disabled and back through the public API, each by its own task (so each credential's events
are in order, as the dispatcher must keep them), at ``rate`` events per second overall. The
receiver verifies every signature with ``standardwebhooks`` and notes the arrival time; the
event's ``timestamp`` is when it was written. Both clocks are this machine's.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import datetime

import httpx

from tests.factories import oauth_body
from tests.webhooks.receiver import Receiver

from .fixtures import Vault
from .report import Report

CREDENTIALS = 20


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _emit(vault: Vault, events: int, rate: float) -> None:
    auth = {"Authorization": f"Bearer {vault.admin_token}"}
    async with httpx.AsyncClient(base_url=vault.url, headers=auth, timeout=30) as http:
        ids = []
        for n in range(CREDENTIALS):
            created = await http.post("/v1/credentials", json=oauth_body(account_id=f"wh-{n}"))
            created.raise_for_status()
            ids.append(created.json()["id"])
        per_credential = events // CREDENTIALS
        interval = CREDENTIALS / rate

        async def toggle(offset: int, credential_id: str) -> None:
            await asyncio.sleep(offset * interval / CREDENTIALS)  # spread the starts
            for _ in range(per_credential):
                started = time.monotonic()
                path = f"/v1/credentials/{credential_id}"
                (await http.patch(path, json={"disabled": True})).raise_for_status()
                (await http.patch(path, json={"disabled": False})).raise_for_status()
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

        await asyncio.gather(*(toggle(n, i) for n, i in enumerate(ids)))


def run(report: Report, vault: Vault, *, events: int, rate: float) -> None:
    report.heading(f"Webhook delivery latency ({events} events at {rate:g}/s)")
    events -= events % CREDENTIALS
    with Receiver() as receiver, vault.admin() as http:
        body = {"url": receiver.url, "events": ["credential.disabled"], "description": "bench"}
        hook = http.post("/v1/webhooks", json=body)
        hook.raise_for_status()
        secret = hook.json()["secret"]
        started = time.perf_counter()
        asyncio.run(_emit(vault, events, rate))
        asyncio.run(receiver.wait_for(events, within=120))
        elapsed = time.perf_counter() - started
        http.delete(f"/v1/webhooks/{hook.json()['id']}")
    latencies = []
    for received in receiver.received:
        sent = datetime.fromisoformat(received.verify(secret)["timestamp"]).timestamp()
        latencies.append((received.at - sent) * 1000)
    ids = [r.webhook_id for r in receiver.received]
    report.line(
        f"{len(ids)} deliveries ({len(set(ids))} distinct events, all signatures verified) "
        f"in {elapsed:.1f} s ({len(ids) / elapsed:.0f} events/s achieved)"
    )
    report.line(
        f"latency ms: p50 {percentile(latencies, 0.5):.1f}, p99 {percentile(latencies, 0.99):.1f},"
        f" mean {statistics.fmean(latencies):.1f}, max {max(latencies):.1f}"
    )
    report.check(
        "webhook p99 latency",
        f"{percentile(latencies, 0.99):.0f} ms",
        "< 10000 ms",
        percentile(latencies, 0.99) < 10_000,
    )
    report.check(
        "webhook events delivered once", str(len(set(ids))), str(events), len(set(ids)) == events
    )
