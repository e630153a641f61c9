"""The processes under test and their plumbing: database, vault, ceiling, simulator, bao.

Everything is a context manager so that ``runner`` can stack them on one ``ExitStack`` and
nothing outlives a run, whatever fails. The vault runs exactly as in production
(``python -m app.serve --workers N``, through :class:`tests.replicas.Replicas`); its worker
processes are found as the children of that launcher for the memory readings.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.crypto import LocalKeyring
from tests.replicas import ROOT, Replicas, free_port

# The bench's own server (``tests.pg_cluster``), sized as README "Sizing PostgreSQL" advises.
# With Debian's default 128 MB, at 100,000 credentials about half the cache misses read a page
# from the operating system and backends wrote dirty pages out themselves to make room
# (pg_stat_bgwriter): 55 µs of PostgreSQL CPU per answer, against 49 with 1 GB.
SERVER_SETTINGS = {"shared_buffers": "1GB"}


def _on(server: str, database: str, *, driver: str = "postgresql") -> str:
    """``server``'s URL for ``database`` (a socket folder's ``?host=`` kept)."""
    url = make_url(server).set(drivername=driver, database=database)
    return url.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """asyncpg's DSN for the SQLAlchemy URL (``postgresql+asyncpg://``) of a bench database."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin(server: str, sql: str) -> None:
    connection = await asyncpg.connect(_on(server, "postgres"), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def scalar(url: str, sql: str) -> object:
    """One value from the bench database (``url`` is the SQLAlchemy asyncpg URL)."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


async def steady_state(url: str) -> None:
    """What a server that has run a while has done after a bulk load: its statistics
    gathered, dead rows vacuumed and dirty pages written out. Without it, autovacuum and the
    checkpointer do it during the next load runs and their CPU counts as the answers'."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("VACUUM (ANALYZE)")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database on ``server`` (``postgresql://user@host:port``);
    dropped on exit. Yields its SQLAlchemy URL."""
    from tests.conftest import migrate  # imports pytest and the app: only when needed

    name = f"vault_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        url = _on(server, name, driver="postgresql+asyncpg")
        migrate(url)
        yield url
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def vault_env(database_url: str, sim_url: str) -> dict[str, str]:
    return {
        "VAULT_ENV": "production",
        "VAULT_DATABASE_URL": database_url,
        "VAULT_KEK_PROVIDER": "local",
        "VAULT_LOCAL_KEKS": LocalKeyring.generate_spec("bench-1"),
        "VAULT_BOOTSTRAP_TOKEN": secrets.token_urlsafe(32),
        "VAULT_WALMART_PRODUCTION_URL": sim_url,
        "VAULT_WALMART_ALLOW_HTTP": "true",
        "VAULT_WALMART_SANDBOX_URL": sim_url.replace("127.0.0.1", "localhost"),
        "VAULT_LOG_LEVEL": "WARNING",
        "VAULT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",  # the webhook run's receiver
    }


@contextmanager
def vault(settings: dict[str, str], log_dir: Path, workers: int) -> Iterator[Replicas]:
    """The vault under ``python -m app.serve`` with ``workers`` uvicorn workers."""
    with Replicas(1, settings, log_dir, workers=workers) as replicas:
        _wait_workers(replicas.processes[0].pid, workers)
        yield replicas


@contextmanager
def ceiling(key_file: Path, log_dir: Path, workers: int) -> Iterator[str]:
    """The bare FastAPI signer under uvicorn, with the same worker count; yields its URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.bench.ceiling:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {**os.environ, "BENCH_CEILING_KEY_FILE": str(key_file)}
    url = f"http://127.0.0.1:{port}"
    with (log_dir / "ceiling.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_http(f"{url}/healthz", process)
        _wait_workers(process.pid, workers)
        yield url
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _wait_workers(parent: int, count: int, timeout: float = 30) -> None:
    """uvicorn answers as soon as one worker is up: wait until all ``count`` have started."""
    deadline = time.monotonic() + timeout
    while len(worker_pids(parent)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {parent} did not start {count} workers")
        time.sleep(0.1)
    time.sleep(1.0)  # each worker's lifespan (engine, caches) is done well within this


def worker_pids(parent: int) -> list[int]:
    """uvicorn's worker processes: the children of ``parent`` started by multiprocessing's
    ``spawn_main`` (not its resource tracker); with one worker, uvicorn serves in ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found) or [parent]


@dataclass(frozen=True)
class Memory:
    pid: int
    rss_kib: int
    hwm_kib: int

    @property
    def rss_mb(self) -> float:
        return self.rss_kib * 1024 / 1e6

    @property
    def hwm_mb(self) -> float:
        return self.hwm_kib * 1024 / 1e6


def memory(pid: int) -> Memory:
    """VmRSS and VmHWM (peak resident) of one process, from /proc/<pid>/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return Memory(pid, values["VmRSS"], values["VmHWM"])


_REQUESTS = re.compile(r"^vault_http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$")


def answered(vault_url: str) -> Counter[str]:
    """The vault's answers so far by ``status route`` (its /metrics, summed over workers)."""
    return parse_answers(httpx.get(f"{vault_url}/metrics", timeout=30).text)


def totals(vault_url: str, names: tuple[str, ...]) -> dict[str, float]:
    """Unlabelled counters' values in the vault's /metrics (summed over workers); 0 if absent."""
    found = dict.fromkeys(names, 0.0)
    for line in httpx.get(f"{vault_url}/metrics", timeout=30).text.splitlines():
        name, _, value = line.partition(" ")
        if name in found:
            found[name] = float(value)
    return found


def parse_answers(metrics: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in metrics.splitlines():
        match = _REQUESTS.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
            counts[f"{labels.get('status')} {labels.get('route')}"] += int(float(match["value"]))
    return counts
