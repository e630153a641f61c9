"""The scale run's targets, each a PASS/FAIL line of the report.

Every ratio against "100 credentials" is taken round by round: each round at N runs between
two rounds over the 100 credentials registered first (the hot ones, nearly every answer a
hit, in the same database), is compared with the mean of those two, and the key costs are
measured after it (``scale._paired_runs``); the median of the rounds' ratios is scored. Taken
minutes apart, the same figures drifted by a fifth with the host's speed. The 100-credential
database's own rounds, before the import, are not scored, but the report sets the same ratios
against them too, and the hot rounds against them (what the database's size alone changes).

* RSS per worker at N credentials: at most 250 MB.
* Median latency (p50) against the 100 credentials': uniform within 2.0x, Zipf (s = 1.1)
  within 1.2x.
* Cold path: what an answer whose key is not in memory costs the workers beyond a hit's
  signature, at most twice opening that key and signing once by itself. Measured as the
  uniform N round's worker CPU per answer minus its hot rounds' (nearly every uniform answer
  misses at 100,000), plus a signature with a key in use.
* PostgreSQL CPU per answer at N: at most 3x its figure with the 100 credentials.
* Import: at least half the rate of merely parsing and checking the same keys.
* ``GET /metrics`` at N: within 2x of its time with 100 credentials (medians).
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass

from . import bulk, services
from .audit_floor import AuditFloor
from .miss_cost import SigningCost
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
class Interleaved:
    """Rounds at N, each between two rounds over the 100 first credentials (``hot`` has one
    round more), with the RSA-1024 key costs measured after each round at N."""

    hot: Runs
    measured: Runs
    keys: list[SigningCost]

    def p50_ratios(self) -> list[float]:
        return [m / h for h, m in _against_hot(_p50s(self.hot), _p50s(self.measured))]

    def postgres_ratios(self) -> list[float]:
        return [
            m / h for h, m in _against_hot(_postgres_cpu(self.hot), _postgres_cpu(self.measured))
        ]

    def misses(self) -> list[float]:
        """Worker CPU per answer beyond the hot rounds' around it, round by round."""
        return [m - h for h, m in _against_hot(_workers(self.hot), _workers(self.measured))]

    def key_line(self) -> str:
        fresh = ", ".join(f"{k.open_and_sign_us:.0f}" for k in self.keys)
        warm = ", ".join(f"{k.sign_us:.0f}" for k in self.keys)
        return (
            f"RSA-1024 after each round: open + first signature {fresh} us, "
            f"signature with a key in use {warm} us"
        )


def _against_hot(hot: list[float], measured: list[float]) -> list[tuple[float, float]]:
    """Each round's figure beside the mean of the two hot rounds around it (never zero)."""
    around = [max((before + after) / 2, 1e-9) for before, after in itertools.pairwise(hot)]
    return list(zip(around, measured, strict=True))


def _p50s(runs: Runs) -> list[float]:
    return [r.p50_ms for r in runs.results]


def _workers(runs: Runs) -> list[float]:
    return [vault for vault, _ in runs.costs]


def _postgres_cpu(runs: Runs) -> list[float]:
    return [postgres for _, postgres in runs.costs]


@dataclass(frozen=True)
class Measured:
    count: int
    small: Runs  # the 100-credential database's rounds, before the import
    small_key: SigningCost  # measured right after them
    uniform: Interleaved
    zipf: Interleaved
    final_memory: list[services.Memory]
    distinct: int
    small_scrapes: list[float]
    large_scrapes: list[float]
    parse_rate: float
    imported: bulk.Imported
    read_floor: Floor  # the read alone, at about the uniform runs' ids per statement
    audit_floor: AuditFloor  # an audit row alone, for the hot sellers and for all of them


def _shown(ratios: list[float]) -> str:
    return ", ".join(f"{r:.2f}" for r in ratios)


def _latency(report: Report, rounds: Interleaved, label: str, limit: float) -> None:
    ratios = rounds.p50_ratios()
    ratio = statistics.median(ratios)
    report.check(
        f"median latency {label} vs 100 credentials",
        f"{ratio:.2f}x (rounds {_shown(ratios)}; medians {rounds.measured.p50:.2f} vs "
        f"{rounds.hot.p50:.2f} ms hot)",
        f"<= {limit:.2f}x",
        ratio <= limit,
    )


def _cold_path(report: Report, m: Measured) -> None:
    keys = m.uniform.keys
    misses = m.uniform.misses()
    colds = [miss + key.sign_us for miss, key in zip(misses, keys, strict=True)]
    ratios = [cold / key.open_and_sign_us for cold, key in zip(colds, keys, strict=True)]
    ratio = statistics.median(ratios)
    open_and_sign = statistics.median(k.open_and_sign_us for k in keys)
    report.check(
        f"cold path: worker CPU of a miss, {m.count} uniform",
        f"{statistics.median(colds):.0f} us, {ratio:.2f}x open + sign (rounds {_shown(ratios)}; "
        f"+{statistics.median(misses):.0f} over a hit, "
        f"+ {statistics.median(k.sign_us for k in keys):.0f} signing)",
        f"<= {COLD_PATH_LIMIT:.2f}x open + sign ({open_and_sign:.0f} us)",
        ratio <= COLD_PATH_LIMIT,
    )


def _reads_per_answer(runs: Runs) -> float:
    return runs.caches.reads / max(runs.caches.answers, 1)


def _work_extra(m: Measured) -> tuple[float, float]:
    """What the work itself adds to PostgreSQL's CPU per answer at N over the hot rounds (an
    audit row scattered over every seller's index pages instead of the hot ones', and the
    reads), split in those two parts: the least any code that reads each seller from the
    database and audits every answer adds to the hot rounds' cost."""
    audit = m.audit_floor.all_us_per_row - m.audit_floor.hot
    reads = _reads_per_answer(m.uniform.measured) - _reads_per_answer(m.uniform.hot)
    return audit, reads * m.read_floor.postgres_us_per_read


def _postgres(report: Report, m: Measured) -> None:
    ratios = m.uniform.postgres_ratios()
    ratio = statistics.median(ratios)
    floor, hot = m.read_floor, m.uniform.hot.postgres_cpu
    audit, reads = _work_extra(m)
    report.check(
        f"PostgreSQL CPU per answer {m.count} uniform vs 100",
        f"{ratio:.2f}x (rounds {_shown(ratios)}; medians {m.uniform.measured.postgres_cpu:.0f} vs "
        f"{hot:.0f} us hot; the read alone at {floor.batch} per statement "
        f"{floor.postgres_us_per_read:.0f} us; the work's own extra +{audit + reads:.0f} us, "
        f"audit row +{audit:.0f} and reads +{reads:.0f}: "
        f"{1 + (audit + reads) / hot:.2f}x with only that)",
        f"<= {POSTGRES_CPU_LIMIT:.1f}x",
        ratio <= POSTGRES_CPU_LIMIT,
    )


def _figures(label: str, runs: Runs) -> str:
    return (
        f"{label} p50 {runs.p50:.2f} ms, worker CPU {runs.vault_cpu:.0f} us, "
        f"PostgreSQL {runs.postgres_cpu:.0f} us"
    )


def _against_the_small_database(report: Report, m: Measured) -> None:
    """The same ratios against the 100-credential database's rounds (not scored: run minutes
    before, across the import), and the uniform rounds' hot rounds against them: what the
    database's size alone changes, host drift included."""
    small, hot, uniform, zipf = m.small, m.uniform.hot, m.uniform.measured, m.zipf.measured
    cold = uniform.vault_cpu - small.vault_cpu + m.small_key.sign_us

    def ratio(measured: float, reference: float) -> str:
        return f"{measured / max(reference, 1e-9):.2f}x"

    report.line(
        "  against the 100-credential database before the import (not scored): uniform "
        f"latency {ratio(uniform.p50, small.p50)}, Zipf {ratio(zipf.p50, small.p50)}, cold path "
        f"{ratio(cold, m.small_key.open_and_sign_us)} open + sign, PostgreSQL "
        f"{ratio(uniform.postgres_cpu, small.postgres_cpu)}; the uniform rounds' hot rounds "
        f"against it: latency {ratio(hot.p50, small.p50)}, worker CPU "
        f"{ratio(hot.vault_cpu, small.vault_cpu)}, PostgreSQL "
        f"{ratio(hot.postgres_cpu, small.postgres_cpu)}"
    )


def check(report: Report, m: Measured) -> None:
    report.line("  medians per answer:")
    for label, runs in (
        ("100-credential database, before the import:", m.small),
        (f"the 100 hot around the uniform {m.count} rounds:", m.uniform.hot),
        (f"uniform {m.count}:", m.uniform.measured),
        (f"the 100 hot around the Zipf {m.count} rounds:", m.zipf.hot),
        (f"Zipf {m.count}:", m.zipf.measured),
    ):
        report.line(f"    {_figures(f'{label:<48}', runs)}")
    _against_the_small_database(report, m)
    worst = max(x.rss_mb for x in m.final_memory)
    report.check(
        f"RSS per worker, {m.count} credentials ({m.distinct} requested)",
        f"{worst:.1f} MB (max of {len(m.final_memory)})",
        f"<= {RSS_LIMIT_MB:.0f} MB",
        worst <= RSS_LIMIT_MB,
    )
    _latency(report, m.uniform, f"{m.count} uniform", UNIFORM_LATENCY_LIMIT)
    _latency(report, m.zipf, f"{m.count} Zipf s=1.1", ZIPF_LATENCY_LIMIT)
    _cold_path(report, m)
    _postgres(report, m)
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
    everything = m.small.results + [
        r for p in (m.uniform, m.zipf) for r in p.hot.results + p.measured.results
    ]
    quiet_check(report, everything, "scale runs")
    errors = sum(r.errors for r in everything)
    report.check("non-2xx and socket errors (scale runs)", str(errors), "0", errors == 0)
