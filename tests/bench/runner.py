"""The order of a run: start everything, check it, load it round by round, report, clean up."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
import traceback
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from sqlalchemy.engine import make_url

from tests import pg_cluster
from tests.kms_servers import BaoServer
from tests.walmart_sim import SimulatorControl
from tests.walmart_sim.process import SimulatorProcess

from . import environment, fixtures, machine, profiling, proxy, scale, services, webhooks, wrk
from .report import Report, ratio_line, ratios, rounds_summary


@dataclass(frozen=True)
class Options:
    duration: float
    rounds: int
    concurrency: int
    threads: int
    warmup: float
    workers: int
    scale: int
    skip_scale: bool
    batch: int
    profile: float
    output: Path
    keep_logs: bool
    strict: bool
    vault_settings: tuple[str, ...] = ()  # "VAULT_NAME=value", over the bench's own
    scale_only: bool = False
    max_wait: float = 120.0  # seconds to wait for other processes to go quiet, per run
    webhook_events: int = 1000
    webhook_rate: float = 100.0
    webhooks_only: bool = False
    postgres_url: str | None = None  # an existing server instead of the bench's own


@dataclass
class Bench:
    options: Options
    report: Report
    work: Path
    targets: list[wrk.Target]
    oauth_clients: list[str]
    oauth_first_use: float = 0.0
    oauth_last_use: float = 0.0
    vault_launcher: int = 0
    database: str = ""
    vault_url: str = ""
    settle: dict[str, float] = field(default_factory=dict)
    # The vault's answers by status when last read: /metrics is read only to explain errors,
    # since with many credentials a scrape costs a worker real time and memory.
    answers: Counter[str] = field(default_factory=Counter)

    def load(
        self, target: wrk.Target, seconds: float, concurrency: int | None = None
    ) -> wrk.Result:
        waited = machine.wait_quiet(self.database, limit=self.options.max_wait)
        if waited > 3:  # one 2-second window is the measurement itself
            self.report.line(f"note: waited {waited:.0f} s for other processes to go quiet")
        with machine.OtherLoad(self.database) as other:
            result = wrk.run(
                target,
                seconds=seconds,
                concurrency=concurrency or self.options.concurrency,
                threads=self.options.threads,
                work_dir=self.work,
                raw_log=self.work / "wrk.log",
            )
        result = replace(result, other_cores=other.cores)
        if target.name == "oauth":
            self.oauth_last_use = time.time()
        if result.status_errors:
            answers = services.answered(self.vault_url)
            self._explain(target.name, answers - self.answers)
            self.answers = answers
        # The vault keeps writing its audit backlog after a load: the next target starts once
        # the vault's workers are idle, so that no run pays for the one before.
        workers = services.worker_pids(self.vault_launcher)
        self.settle[target.name] = machine.wait_idle(workers)
        return result

    def _explain(self, name: str, answers: Counter[str]) -> None:
        failed = {k: n for k, n in answers.items() if not k.startswith(("2", "3"))}
        shown = ", ".join(f"{n} x {k}" for k, n in sorted(failed.items())) or "none (not the vault)"
        self.report.line(f"note: {name} got non-2xx answers; the vault's own count: {shown}")


def _prepare(bench: Bench, vault: fixtures.Vault, bao: BaoServer, ceiling_url: str) -> str:
    """Credentials, their end-to-end check, and the five targets; returns the issuing token."""
    token = fixtures.issuing_client(vault)
    feeds, orders = f"{vault.sim_url}/v3/ca/feeds?limit=10", f"{vault.sim_url}/v3/orders?limit=10"
    with vault.admin() as http:
        sig2048 = fixtures.register_signature(vault, http, "bench-sig2048", fixtures.new_key(2048))
        sig1024 = fixtures.register_signature(vault, http, "bench-sig1024", fixtures.new_key(1024))
        oauth, client_id = fixtures.register_oauth(vault, http, "bench-oauth")
    bench.oauth_clients.append(client_id)
    bench.oauth_first_use = time.time()
    for credential_id, url in ((sig2048, feeds), (sig1024, feeds), (oauth, orders)):
        fixtures.check_end_to_end(vault, token, credential_id, url)
    bench.report.line("credentials registered and their headers accepted by the simulator")
    bench.answers = services.answered(vault.url)
    bench.targets += [
        fixtures.headers_target("sig2048", vault, token, sig2048, feeds),
        fixtures.headers_target("sig1024", vault, token, sig1024, feeds),
        fixtures.headers_target("oauth", vault, token, oauth, orders),
        fixtures.transit_target(bao, vault.sim_url),
        fixtures.ceiling_target(ceiling_url, vault.sim_url),
    ]
    return token


def _rounds(bench: Bench) -> None:
    options, report = bench.options, bench.report
    if options.warmup > 0:
        warm = [bench.load(t, options.warmup) for t in bench.targets]
        report.line(
            f"warm-up ({options.warmup:g} s each): "
            + ", ".join(f"{r.target} {r.rps:.0f} req/s/{r.errors} err" for r in warm)
        )
    rounds = []
    for number in range(1, options.rounds + 1):
        results = {t.name: bench.load(t, options.duration) for t in bench.targets}
        report.heading(f"Round {number}/{options.rounds}")
        report.table(list(results.values()))
        report.line(ratio_line(ratios(results)))
        report.line(
            "vault busy after each run (audit backlog) for: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in bench.settle.items())
        )
        rounds.append(results)
    rounds_summary(report, rounds, options.concurrency)


def _profile(bench: Bench, launcher_pid: int, target: wrk.Target) -> None:
    """An extra, unscored run of ``target`` while py-spy samples one vault worker."""
    worker = services.worker_pids(launcher_pid)[0]
    seconds = bench.options.profile
    bench.report.heading(f"Profile: py-spy on vault worker {worker}, {target.name}, {seconds:g} s")
    for line in profiling.during(worker, seconds, bench.work, lambda: bench.load(target, seconds)):
        bench.report.line(line)


def _token_calls(bench: Bench, sim_url: str) -> None:
    bench.report.heading("OAuth token calls (simulator)")
    with SimulatorControl(sim_url) as sim:
        calls = sim.stats()["token_calls"]
        lifetime = float(sim.settings()["token_lifetime_seconds"])
    margin = 120.0  # VAULT_TOKEN_REFRESH_MARGIN_SECONDS, left at its default
    span = bench.oauth_last_use - bench.oauth_first_use
    expected = 1 + int(span // (lifetime - margin))
    for client_id in bench.oauth_clients:
        made = int(calls.get(client_id, 0))
        bench.report.line(
            f"{client_id}: {made} token call(s) over {span:.0f} s of use "
            f"(token lifetime {lifetime:.0f} s, refresh {margin:.0f} s early: {expected} expected)"
        )
        bench.report.check(
            f"token calls for {client_id}", str(made), str(expected), made == expected
        )


def _run(bench: Bench, stack: ExitStack) -> None:
    options, report = bench.options, bench.report
    if options.postgres_url is None:
        if not pg_cluster.available():
            raise RuntimeError("initdb not found: install PostgreSQL's server package, or pass"
                               " --postgres-url")  # fmt: skip
        cluster = pg_cluster.PrivatePostgres(services.SERVER_SETTINGS, over_tcp=False)
        server = stack.enter_context(cluster).server
        settings = ", ".join(f"{name} {value}" for name, value in services.SERVER_SETTINGS.items())
        report.line(
            f"database server: the bench's own ({settings}, see README 'Sizing PostgreSQL';"
            " --postgres-url runs on another)"
        )
    else:
        server = options.postgres_url
        report.line(f"database server: {server} as it is configured (--postgres-url)")
    database_url = stack.enter_context(services.fresh_database(server))
    bench.database = str(make_url(database_url).database)  # a socket's ?host= is not part
    sim = stack.enter_context(SimulatorProcess())
    env = services.vault_env(database_url, sim.base_url)
    env.update(setting.partition("=")[::2] for setting in options.vault_settings)
    replicas = stack.enter_context(services.vault(env, bench.work, options.workers))
    launcher = replicas.processes[0].pid
    bench.vault_launcher, bench.vault_url = launcher, replicas.urls[0]
    vault = fixtures.Vault(replicas.urls[0], env["VAULT_BOOTSTRAP_TOKEN"], sim.base_url)
    if options.webhooks_only:
        webhooks.run(report, vault, events=options.webhook_events, rate=options.webhook_rate)
        return
    bao = stack.enter_context(BaoServer())
    key_file = bench.work / "ceiling-key.pem"
    key_file.write_bytes(
        fixtures.new_key(2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ceiling_url = stack.enter_context(services.ceiling(key_file, bench.work, options.workers))
    report.line(
        f"vault {vault.url} (workers {services.worker_pids(launcher)}), simulator {sim.base_url},"
        f" bao {bao.address}, ceiling {ceiling_url} (workers {options.workers})"
    )
    token = _prepare(bench, vault, bao, ceiling_url)
    if not options.scale_only:
        _rounds(bench)
        proxy.overhead(report, vault, bench.load, rounds=options.rounds, seconds=options.duration)
        if options.profile > 0:
            _profile(bench, launcher, bench.targets[0])
    if not options.skip_scale:
        setup = scale.ScaleSetup(
            vault=vault,
            env=env,
            launcher_pid=launcher,
            database=bench.database,
            issue_token=token,
            work=bench.work,
            count=options.scale,
            batch=options.batch,
            warmup=options.warmup,
            duration=options.duration,
            profile=(lambda t: _profile(bench, launcher, t)) if options.profile > 0 else None,
        )
        scale.run(report, setup, bench.load, options.rounds)
    if not options.scale_only:  # the OAuth target ran only in the main rounds
        _token_calls(bench, sim.base_url)
        webhooks.run(report, vault, events=options.webhook_events, rate=options.webhook_rate)


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(options: Options) -> int:
    report = Report()
    work = Path(tempfile.mkdtemp(prefix="vault-bench-"))
    bench = Bench(options, report, work, targets=[], oauth_clients=[])
    environment.describe(report, options.__dict__)
    failed = False
    # SIGTERM (and SIGINT, which a background job ignores) unwind the stack: nothing outlives us.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        with ExitStack() as stack:
            _run(bench, stack)
    except (Exception, KeyboardInterrupt) as exc:  # the partial report is still worth saving
        failed = True
        # The traceback to the terminal only: the saved report is committed, and its frames
        # would name this machine's paths.
        traceback.print_exc()
        report.line(f"ERROR {type(exc).__name__}: {exc}")
    ok = report.summary() and not failed
    report.line(f"RESULT: {'all targets met' if ok else 'some targets missed or the run failed'}")
    report.save(options.output)
    print(f"report saved to {options.output}")
    if options.keep_logs or failed:
        print(f"logs (vault, ceiling, raw wrk output) kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        return 2
    return 1 if options.strict and not ok else 0
