"""The scale run's targets, each a PASS/FAIL line of the report.

* RSS per worker at N credentials: at most 250 MB.
* Median latency (p50, median over rounds) against the 100-credential runs: uniform within
  2.0x, Zipf (s = 1.1) within 1.2x.
* Cold path: what an answer whose key is not in memory costs the workers beyond a hit's
  signature, at most twice opening that key and signing once by itself. Measured as the
  uniform N run's worker CPU per answer minus the 100 run's (nearly every uniform answer
  misses at 100,000; every 100-credential answer hits), plus a signature with a key in use.
* PostgreSQL CPU per answer at N: at most 3x its figure with 100 credentials.
* Import: at least half the rate of merely parsing and checking the same keys.
* ``GET /metrics`` at N: within 2x of its time with 100 credentials (medians).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from . import bulk, services
from .miss_cost import KeyCost
from .read_floor import Floor
from .report import Report, quiet_check
from .wrk import Result, Target

RSS_LIMIT_MB = 250.0
UNIFORM_LATENCY_LIMIT = 2.0
ZIPF_LATENCY_LIMIT = 1.2
COLD_PATH_LIMIT = 2.0  # times opening a key and signing once
POSTGRES_CPU_LIMIT = 3.0
IMPORT_TO_PARSE_MINIMUM = 0.5
SCRAPE_LIMIT = 2.0


@dataclass(frozen=True)
class CacheUse:
    """What the rounds' answers cost the headers path's caches (the vault's own counters)."""

    answers: int
    reads: float  # credentials read from the database
    statements: float  # the statements those reads took
    key_setups: float  # keys unsealed and set up

    @property
    def ids_per_statement(self) -> float:
        return self.reads / self.statements if self.statements else 0.0

    def line(self) -> str:
        per = max(self.answers, 1)
        return (
            f"  per answer: {self.reads / per:.2f} credential reads "
            f"({self.ids_per_statement:.1f} per statement), {self.key_setups / per:.2f} keys set up"
        )


@dataclass(frozen=True)
class Runs:
    target: Target
    results: list[Result]
    costs: list[tuple[float, float]]  # (vault workers, PostgreSQL) CPU us per answer, per round
    caches: CacheUse

    @property
    def p50(self) -> float:
        return statistics.median(r.p50_ms for r in self.results)

    @property
    def vault_cpu(self) -> float:
        return statistics.median(vault for vault, _ in self.costs)

    @property
    def postgres_cpu(self) -> float:
        return statistics.median(postgres for _, postgres in self.costs)


@dataclass(frozen=True)
class Measured:
    count: int
    small: Runs
    uniform: Runs
    zipf: Runs
    final_memory: list[services.Memory]
    distinct: int
    key: KeyCost  # RSA-1024, the scale run's keys
    small_scrapes: list[float]
    large_scrapes: list[float]
    parse_rate: float
    imported: bulk.Imported
    read_floor: Floor  # the read alone, at about the uniform runs' ids per statement


def _latency(report: Report, m: Measured, runs: Runs, label: str, limit: float) -> None:
    ratio = runs.p50 / m.small.p50
    report.check(
        f"median latency {label} vs 100 credentials",
        f"{ratio:.2f}x ({runs.p50:.2f} vs {m.small.p50:.2f} ms)",
        f"<= {limit:.2f}x",
        ratio <= limit,
    )


def check(report: Report, m: Measured) -> None:
    report.line(
        f"  median p50: {m.small.p50:.2f} ms with 100, {m.uniform.p50:.2f} ms uniform and "
        f"{m.zipf.p50:.2f} ms Zipf with {m.count}; worker CPU per answer (us, medians): "
        f"{m.small.vault_cpu:.0f}, {m.uniform.vault_cpu:.0f}, {m.zipf.vault_cpu:.0f}; "
        f"PostgreSQL {m.small.postgres_cpu:.0f}, {m.uniform.postgres_cpu:.0f}, "
        f"{m.zipf.postgres_cpu:.0f}"
    )
    worst = max(x.rss_mb for x in m.final_memory)
    report.check(
        f"RSS per worker, {m.count} credentials ({m.distinct} requested)",
        f"{worst:.1f} MB (max of {len(m.final_memory)})",
        f"<= {RSS_LIMIT_MB:.0f} MB",
        worst <= RSS_LIMIT_MB,
    )
    _latency(report, m, m.uniform, f"{m.count} uniform", UNIFORM_LATENCY_LIMIT)
    _latency(report, m, m.zipf, f"{m.count} Zipf s=1.1", ZIPF_LATENCY_LIMIT)
    miss = m.uniform.vault_cpu - m.small.vault_cpu
    cold = miss + m.key.sign_us
    wanted = COLD_PATH_LIMIT * m.key.open_and_sign_us
    report.check(
        f"cold path: worker CPU of a miss, {m.count} uniform",
        f"{cold:.0f} us (+{miss:.0f} over a hit, + {m.key.sign_us:.0f} signing)",
        f"<= {wanted:.0f} us (2 x open + sign {m.key.open_and_sign_us:.0f})",
        cold <= wanted,
    )
    pg_ratio = m.uniform.postgres_cpu / max(m.small.postgres_cpu, 1e-9)
    floor = m.read_floor
    report.check(
        f"PostgreSQL CPU per answer {m.count} uniform vs 100",
        f"{pg_ratio:.2f}x ({m.uniform.postgres_cpu:.0f} vs {m.small.postgres_cpu:.0f} us; "
        f"the read alone at {floor.batch} per statement {floor.postgres_us_per_read:.0f} us)",
        f"<= {POSTGRES_CPU_LIMIT:.1f}x",
        pg_ratio <= POSTGRES_CPU_LIMIT,
    )
    import_ratio = m.imported.rate / m.parse_rate
    report.check(
        "import rate vs parse + check rate",
        f"{import_ratio:.2f} ({m.imported.rate:.0f} vs {m.parse_rate:.0f} lines/s)",
        f">= {IMPORT_TO_PARSE_MINIMUM:.2f}",
        import_ratio >= IMPORT_TO_PARSE_MINIMUM and m.imported.rejected == 0,
    )
    small, large = statistics.median(m.small_scrapes), statistics.median(m.large_scrapes)
    report.check(
        f"GET /metrics {m.count} vs 100 credentials",
        f"{large / small:.2f}x ({large * 1000:.1f} vs {small * 1000:.1f} ms)",
        f"<= {SCRAPE_LIMIT:.1f}x",
        large / small <= SCRAPE_LIMIT,
    )
    everything = m.small.results + m.uniform.results + m.zipf.results
    quiet_check(report, everything, "scale runs")
    errors = sum(r.errors for r in everything)
    report.check("non-2xx and socket errors (scale runs)", str(errors), "0", errors == 0)
