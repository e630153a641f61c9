"""The scale run: memory per worker, headers latency and CPU with 100 and with N credentials.

First 100 signature credentials are registered through the HTTP API and loaded at random
(the small database); then the rest up to N go in with ``vault-admin credentials import``
(its rate beside that of merely parsing and checking the same keys), and the load runs over
all N ids twice: uniformly at random, and by Zipf's law (s = 1.1: a few sellers make most
calls, as in real traffic), each round between two over the first 100
(``_paired_runs``). Resident memory (VmRSS, and the peak VmHWM) of every vault worker is read
at each step, and ``/metrics`` is timed with 100 and with N credentials. The checks are in
``scale_checks``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from . import audit_floor, bulk, machine, miss_cost, read_floor, scale_checks, scrape, services
from .fixtures import Vault
from .loader import key_pool, load_http
from .report import Report
from .wrk import Result, Target

SMALL = 100
SCALE_KEY_BITS = 1024
ZIPF_S = 1.1
CACHE_COUNTERS = (
    "vault_snapshot_reads_total",
    "vault_snapshot_read_statements_total",
    "vault_key_cache_misses_total",
)


@dataclass(frozen=True)
class ScaleSetup:
    vault: Vault
    env: dict[str, str]
    launcher_pid: int
    database: str  # the bench database's name, for PostgreSQL's CPU time
    issue_token: str
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


def _target(setup: ScaleSetup, ids: list[str], label: str, zipf_s: float | None) -> Target:
    ids_file = setup.work / f"ids-{label}.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    return Target(
        name=f"random-{label}",
        url=setup.vault.url,
        body={"method": "GET", "url": f"{setup.vault.sim_url}/v3/ca/feeds?limit=10"},
        headers={"Authorization": f"Bearer {setup.issue_token}"},
        ids_file=ids_file,
        zipf_s=zipf_s,
    )


def _warm(report: Report, setup: ScaleSetup, run: Runner, target: Target) -> None:
    if setup.warmup > 0:
        warm = run(target, setup.warmup)
        report.line(f"  warm-up {target.name}: {warm.rps:.0f} req/s, {warm.errors} errors")


@dataclass
class _Rounds:
    """One target's rounds so far, with what its answers cost the caches."""

    target: Target
    results: list[Result] = field(default_factory=list)
    costs: list[tuple[float, float]] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CACHE_COUNTERS, 0.0))

    def add(self, setup: ScaleSetup, run: Runner) -> None:
        before = services.totals(setup.vault.url, CACHE_COUNTERS)
        result, cost = _with_cpu(setup, run, self.target)
        after = services.totals(setup.vault.url, CACHE_COUNTERS)
        self.results.append(result)
        self.costs.append(cost)
        for name in CACHE_COUNTERS:
            self.counters[name] += after[name] - before[name]

    def runs(self, report: Report) -> scale_checks.Runs:
        reads, statements, key_setups = (self.counters[n] for n in CACHE_COUNTERS)
        answers = sum(r.requests for r in self.results)
        caches = scale_checks.CacheUse(answers, reads, statements, key_setups)
        report.line(
            f"  {self.target.name}: CPU per answer (us): vault workers "
            + ", ".join(f"{vault:.0f}" for vault, _ in self.costs)
            + "; PostgreSQL "
            + ", ".join(f"{postgres:.0f}" for _, postgres in self.costs)
        )
        report.line(caches.line())
        return scale_checks.Runs(self.target, self.results, self.costs, caches)


def _random_runs(
    report: Report, setup: ScaleSetup, ids: list[str], label: str, run: Runner, rounds: int
) -> scale_checks.Runs:
    target = _target(setup, ids, label, None)
    _warm(report, setup, run, target)
    done = _Rounds(target)
    for _ in range(rounds):
        done.add(setup, run)
    report.table(done.results)
    return done.runs(report)


# README "Sizing PostgreSQL": the server's buffers should hold this table.
_SIZES_SQL = (
    "SELECT 'credentials, with indexes, '"
    " || pg_size_pretty(pg_total_relation_size('credentials'))"
    " || '; the server''s shared_buffers ' || current_setting('shared_buffers')"
)


def _paired_runs(
    report: Report,
    setup: ScaleSetup,
    run: Runner,
    rounds: int,
    hot_ids: list[str],
    ids: list[str],
    label: str,
    zipf_s: float | None = None,
) -> scale_checks.Interleaved:
    """Rounds over ``ids``, each between two rounds over the ``SMALL`` first credentials (the
    hot ones: nearly every answer a hit), with the key costs measured after each: every ratio
    is taken against the mean of the two hot rounds around it, so a host whose speed drifts
    steadily (by a fifth within a few minutes here: three uniform rounds in a row once cost
    694, 769 and 832 us) moves both sides alike."""
    hot = _Rounds(_target(setup, hot_ids, f"hot-{SMALL}-{label}", None))
    measured = _Rounds(_target(setup, ids, label, zipf_s))
    _warm(report, setup, run, measured.target)
    hot.add(setup, run)
    keys = []
    for _ in range(rounds):
        measured.add(setup, run)
        keys.append(miss_cost.signing_cost(SCALE_KEY_BITS))
        hot.add(setup, run)
    shown = [hot.results[0]]
    for pair in zip(measured.results, hot.results[1:], strict=True):
        shown.extend(pair)
    report.table(shown)
    interleaved = scale_checks.Interleaved(hot.runs(report), measured.runs(report), keys)
    report.line("  " + interleaved.key_line())
    return interleaved


def _with_cpu(setup: ScaleSetup, run: Runner, target: Target) -> tuple[Result, tuple[float, float]]:
    """One run, and the CPU microseconds per request its workers and PostgreSQL spent (the
    audit writes of the run included, which the runner waits for)."""
    workers = services.worker_pids(setup.launcher_pid)
    before = (machine.cpu_seconds(workers), machine.postgres_times(setup.database))
    if not before[1]:  # or every PostgreSQL figure would read 0
        raise RuntimeError(f"no PostgreSQL process found serving {setup.database!r}")
    result = run(target, setup.duration)
    after = (machine.cpu_seconds(workers), machine.postgres_times(setup.database))
    count = max(result.requests, 1)
    postgres = machine.spent_between(before[1], after[1])
    return result, ((after[0] - before[0]) / count * 1e6, postgres / count * 1e6)


def _distinct_requested(vault_db: str) -> int:
    sql = "SELECT count(DISTINCT credential_id) FROM audit_events WHERE action = 'headers.issued'"
    time.sleep(2.5)  # the audit batcher writes within a second of issue
    value = asyncio.run(services.scalar(vault_db, sql))
    return int(value) if isinstance(value, int) else 0


def _scrapes(report: Report, setup: ScaleSetup, count: int) -> list[float]:
    times = scrape.seconds(setup.vault.url)
    report.line(
        f"  GET /metrics with {count} credentials (gauges read afresh): " + scrape.shown(times)
    )
    return times


def _bulk_load(
    report: Report, setup: ScaleSetup, keys: list[RSAPrivateKey]
) -> tuple[list[str], float, bulk.Imported]:
    first, count = SMALL, setup.count - SMALL
    file = bulk.write_file(setup.work / "sellers.jsonl", first, count, keys)
    parse_rate = bulk.parse_rate(file)
    report.line(
        f"  parse + check alone (json, parse_private_key; first {min(count, bulk.PARSE_SAMPLE)} "
        f"lines, one process): {parse_rate:.0f} lines per second"
    )
    imported = bulk.run_import(setup.env, file, setup.batch)
    report.line(
        f"  vault-admin credentials import of {imported.lines} lines (--batch-size {setup.batch}): "
        f"{imported.imported} imported, {imported.rejected} rejected in {imported.seconds:.1f} s "
        f"({imported.wall_seconds:.1f} s with the interpreter's start): "
        f"{imported.rate:.0f} per second"
    )
    return bulk.imported_ids(setup.env["VAULT_DATABASE_URL"], first, count), parse_rate, imported


def run(report: Report, setup: ScaleSetup, run: Runner, rounds: int) -> None:
    report.heading(f"Scale: {SMALL} vs {setup.count} signature credentials (1024-bit), random ids")
    keys = key_pool()
    _memory_line(report, "before (after the main rounds)", setup.launcher_pid)
    small_ids, http_rate = load_http(setup.vault, 0, SMALL, keys)
    report.line(f"  registered {SMALL} through POST /v1/credentials: {http_rate:.0f} per second")
    small = _random_runs(report, setup, small_ids, f"{SMALL}", run, rounds)
    small_key = miss_cost.signing_cost(SCALE_KEY_BITS)
    report.line(f"  RSA-1024 after these rounds: {small_key.line()}")
    _memory_line(report, f"after the {SMALL}-credential runs", setup.launcher_pid)
    small_scrapes = _scrapes(report, setup, SMALL)

    bulk_ids, parse_rate, imported = _bulk_load(report, setup, keys)
    count_sql = "SELECT count(*) FROM credentials"
    rows = asyncio.run(services.scalar(setup.env["VAULT_DATABASE_URL"], count_sql))
    report.line(f"  credentials in the database: {rows}")
    started = time.perf_counter()
    asyncio.run(services.steady_state(setup.env["VAULT_DATABASE_URL"]))
    report.line(
        f"  VACUUM (ANALYZE) and CHECKPOINT after the import: {time.perf_counter() - started:.1f} s"
        " (what autovacuum and the checkpointer would otherwise do during the runs below)"
    )
    sizes = asyncio.run(services.scalar(setup.env["VAULT_DATABASE_URL"], _SIZES_SQL))
    report.line(f"  what a miss reads from: {sizes}")
    _memory_line(report, f"after loading {setup.count}", setup.launcher_pid)
    all_ids = small_ids + bulk_ids
    uniform = _paired_runs(report, setup, run, rounds, small_ids, all_ids, f"{setup.count}")
    _memory_line(report, f"after the uniform {setup.count} runs", setup.launcher_pid)
    ranked = random.Random(20).sample(all_ids, len(all_ids))  # the hot sellers, anywhere
    report.line(f"  Zipf's law, s = {ZIPF_S}: the id ranked k is asked for in proportion to 1/k^s")
    zipf = _paired_runs(
        report, setup, run, rounds, small_ids, ranked, f"{setup.count}-zipf", ZIPF_S
    )
    final = _memory_line(report, f"after the Zipf {setup.count} runs", setup.launcher_pid)
    distinct = _distinct_requested(setup.env["VAULT_DATABASE_URL"])
    report.line(
        f"  distinct credentials asked for during the whole run (audit): {distinct}; a worker's "
        "caches hold at most the ones it served"
    )
    large_scrapes = _scrapes(report, setup, setup.count)
    _memory_line(report, "after those scrapes", setup.launcher_pid)
    if setup.profile is not None:
        setup.profile(uniform.measured.target)
    as_batched = max(
        1, round(uniform.measured.caches.ids_per_statement)
    )  # as the vault's reads went
    batches = tuple(sorted({1, as_batched, 32}))
    # Vacuumed first, as after the import: autovacuum of the audit rows the runs wrote would
    # otherwise land in one of these short runs and count as the read's.
    asyncio.run(services.steady_state(setup.env["VAULT_DATABASE_URL"]))
    floors = read_floor.measure(setup.env["VAULT_DATABASE_URL"], setup.database, all_ids, batches)
    report.line(
        "  the read alone (the reader's statement from a bare asyncpg pool, random sellers): "
        "PostgreSQL CPU per seller read "
        + ", ".join(f"{f.postgres_us_per_read:.0f} us {f.batch} per statement" for f in floors)
        + f" (the uniform runs' reads: {uniform.measured.caches.ids_per_statement:.1f} per "
        "statement)"
    )
    audit = audit_floor.measure(setup.env["VAULT_DATABASE_URL"], setup.database, small_ids, all_ids)
    before, after = audit.hot_us_per_row
    report.line(
        "  an audit row alone (the vault's own append from a bare engine, "
        f"{audit_floor.BATCH} per batch): PostgreSQL CPU per row {audit.all_us_per_row:.1f} us "
        f"for sellers drawn from all {len(all_ids)}, {before:.1f} and {after:.1f} us for the "
        f"{SMALL} hot ones before and after"
    )
    report.line("  what a key-cache miss costs (measured in the benchmark's process):")
    costs = miss_cost.measure()
    for cost in costs:
        report.line(cost.line())
    scale_checks.check(
        report,
        scale_checks.Measured(
            count=setup.count,
            small=small,
            small_key=small_key,
            uniform=uniform,
            zipf=zipf,
            final_memory=final,
            distinct=distinct,
            small_scrapes=small_scrapes,
            large_scrapes=large_scrapes,
            parse_rate=parse_rate,
            imported=imported,
            read_floor=next(f for f in floors if f.batch == as_batched),
            audit_floor=audit,
        ),
    )
