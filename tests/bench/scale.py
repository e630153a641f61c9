"""The scale run: memory per worker and headers latency with 100 and with N credentials.

First 100 signature credentials are registered through the HTTP API and loaded at random
(the small database); then the rest up to N go in through the service in-process, and the
same random load runs over all N ids. Resident memory (VmRSS, and the peak VmHWM) of every
vault worker is read at each step. The latency target compares the median p50 of the N runs
with that of the 100 runs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import machine, miss_cost, services
from .fixtures import Vault
from .loader import key_pool, load_http, load_in_process
from .report import Report, quiet_check
from .wrk import Result, Target

SMALL = 100
RSS_LIMIT_MB = 250.0
LATENCY_LIMIT = 1.20


@dataclass(frozen=True)
class ScaleSetup:
    vault: Vault
    env: dict[str, str]
    launcher_pid: int
    database: str  # the bench database's name, for PostgreSQL's CPU time
    issue_token: str
    admin_client_id: str
    work: Path
    count: int
    batch: int
    warmup: float
    duration: float
    profile: Callable[[Target], None] | None = None


Runner = Callable[[Target, float], Result]


def _memory_line(report: Report, label: str, launcher_pid: int) -> list[services.Memory]:
    readings = [services.memory(pid) for pid in services.worker_pids(launcher_pid)]
    shown = "   ".join(f"pid {m.pid}: {m.rss_mb:6.1f} MB (peak {m.hwm_mb:6.1f})" for m in readings)
    report.line(f"  RSS {label:<34} {shown}")
    return readings


def _random_runs(
    report: Report, setup: ScaleSetup, ids: list[str], label: str, run: Runner, rounds: int
) -> tuple[Target, list[Result]]:
    ids_file = setup.work / f"ids-{label}.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    target = Target(
        name=f"random-{label}",
        url=setup.vault.url,
        body={"method": "GET", "url": f"{setup.vault.sim_url}/v3/ca/feeds?limit=10"},
        headers={"Authorization": f"Bearer {setup.issue_token}"},
        ids_file=ids_file,
    )
    if setup.warmup > 0:
        warm = run(target, setup.warmup)
        report.line(f"  warm-up {target.name}: {warm.rps:.0f} req/s, {warm.errors} errors")
    results, costs = [], []
    for _ in range(rounds):
        result, cost = _with_cpu(setup, run, target)
        results.append(result)
        costs.append(cost)
    report.table(results)
    report.line(
        "  CPU per answer (us): vault workers "
        + ", ".join(f"{vault:.0f}" for vault, _ in costs)
        + "; PostgreSQL "
        + ", ".join(f"{postgres:.0f}" for _, postgres in costs)
    )
    return target, results


def _with_cpu(setup: ScaleSetup, run: Runner, target: Target) -> tuple[Result, tuple[float, float]]:
    """One run, and the CPU microseconds per request its workers and PostgreSQL spent (the
    audit writes of the run included, which the runner waits for)."""
    workers = services.worker_pids(setup.launcher_pid)
    before = (machine.cpu_seconds(workers), machine.postgres_seconds(setup.database))
    result = run(target, setup.duration)
    after = (machine.cpu_seconds(workers), machine.postgres_seconds(setup.database))
    count = max(result.requests, 1)
    return result, ((after[0] - before[0]) / count * 1e6, (after[1] - before[1]) / count * 1e6)


def _distinct_requested(vault_db: str) -> int:
    sql = "SELECT count(DISTINCT credential_id) FROM audit_events WHERE action = 'headers.issued'"
    time.sleep(2.5)  # the audit batcher writes within a second of issue
    value = asyncio.run(services.scalar(vault_db, sql))
    return int(value) if isinstance(value, int) else 0


def run(report: Report, setup: ScaleSetup, run: Runner, rounds: int) -> None:
    report.heading(f"Scale: {SMALL} vs {setup.count} signature credentials (1024-bit), random ids")
    keys = key_pool()
    _memory_line(report, "before (after the main rounds)", setup.launcher_pid)
    small_ids, http_rate = load_http(setup.vault, 0, SMALL, keys)
    report.line(f"  registered {SMALL} through POST /v1/credentials: {http_rate:.0f} per second")
    _, small = _random_runs(report, setup, small_ids, f"{SMALL}", run, rounds)
    _memory_line(report, f"after the {SMALL}-credential runs", setup.launcher_pid)

    def progress(done: int, rate: float) -> None:
        if done % 10_000 < setup.batch or done == setup.count - SMALL:
            print(f"  ... {done} loaded, {rate:.0f} per second", flush=True)

    bulk_ids, bulk_rate = load_in_process(
        setup.env,
        setup.admin_client_id,
        SMALL,
        setup.count - SMALL,
        keys,
        batch=setup.batch,
        progress=progress,
    )
    report.line(
        f"  registered {len(bulk_ids)} in-process (create_credential, {setup.batch} per "
        f"transaction): {bulk_rate:.0f} per second"
    )
    count_sql = "SELECT count(*) FROM credentials"
    rows = asyncio.run(services.scalar(setup.env["VAULT_DATABASE_URL"], count_sql))
    report.line(f"  credentials in the database: {rows}")
    _memory_line(report, f"after loading {setup.count}", setup.launcher_pid)
    large_target, large = _random_runs(
        report, setup, small_ids + bulk_ids, f"{setup.count}", run, rounds
    )
    final = _memory_line(report, f"after the {setup.count}-credential runs", setup.launcher_pid)
    distinct = _distinct_requested(setup.env["VAULT_DATABASE_URL"])
    report.line(
        f"  distinct credentials asked for during the whole run (audit): {distinct}; a worker's "
        "caches hold at most the ones it served"
    )
    started = time.perf_counter()
    services.answered(setup.vault.url)  # what a Prometheus scrape costs with N credentials
    scrape = time.perf_counter() - started
    report.line(f"  one GET /metrics with {setup.count} credentials took {scrape:.2f} s")
    _memory_line(report, "after that scrape", setup.launcher_pid)
    if setup.profile is not None:
        setup.profile(large_target)

    small_p50 = statistics.median(r.p50_ms for r in small)
    large_p50 = statistics.median(r.p50_ms for r in large)
    ratio = large_p50 / small_p50
    report.line(
        f"  median p50: {small_p50:.2f} ms with {SMALL}, {large_p50:.2f} ms with {setup.count}"
        f" -> ratio {ratio:.2f};  median req/s {statistics.median(r.rps for r in small):.0f}"
        f" vs {statistics.median(r.rps for r in large):.0f}"
    )
    report.line("  what a key-cache miss costs (measured in the benchmark's process):")
    for line in miss_cost.lines():
        report.line(line)
    worst = max(m.rss_mb for m in final)
    report.check(
        f"RSS per worker, {setup.count} credentials ({distinct} requested)",
        f"{worst:.1f} MB (max of {len(final)})",
        f"<= {RSS_LIMIT_MB:.0f} MB",
        worst <= RSS_LIMIT_MB,
    )
    report.check(
        f"median latency {setup.count} vs {SMALL} credentials",
        f"{ratio:.2f}x ({large_p50:.2f} vs {small_p50:.2f} ms)",
        f"<= {LATENCY_LIMIT:.2f}x",
        ratio <= LATENCY_LIMIT,
    )
    quiet_check(report, small + large, "scale runs")
    errors = sum(r.errors for r in small + large)
    report.check("non-2xx and socket errors (scale runs)", str(errors), "0", errors == 0)
