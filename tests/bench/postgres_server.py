"""The benchmark's own PostgreSQL server, sized as README "Sizing PostgreSQL" advises.

The machine's server keeps its distribution's defaults (128 MB of ``shared_buffers`` on
Debian), which suit the tests. At 100,000 credentials the rows a cache miss reads (the
credentials and their current versions, about 170 MB with 1,024-bit keys) and the audit
indexes' pages that new events land on do not fit in that: in the scale run about half the
misses read a page from the operating system, and backends wrote out dirty pages to make room
(``pg_stat_bgwriter``), which cost PostgreSQL more per answer than the read itself. A
production server is sized for its working set, so the benchmark measures the vault on one
that is, and says so in its report; ``--postgres-url`` runs it on any other server instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SHARED_BUFFERS = "1GB"
# PostgreSQL refuses to run as root: as root, the server runs as the distribution's user.
_SERVER_USER = "postgres"


def _bin_dir() -> Path:
    config = shutil.which("pg_config")
    if config is not None:
        found = Path(subprocess.check_output([config, "--bindir"], text=True).strip())
        if (found / "initdb").exists():
            return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not versions:
        raise RuntimeError(
            "initdb not found: install PostgreSQL's server package, or pass --postgres-url"
        )
    return versions[0].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", _SERVER_USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def private_server() -> Iterator[str]:
    """A new PostgreSQL server in a folder of its own, stopped and removed on exit; yields
    its admin URL. (Not in the run's work folder: as root, the server's user must reach it.)"""
    bin_dir, port = _bin_dir(), _free_port()
    home = Path(tempfile.mkdtemp(prefix="vault-bench-postgres-"))
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam(_SERVER_USER)
            os.chown(home, user.pw_uid, user.pw_gid)
        data, log = home / "data", home / "server.log"
        _run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        options = (
            f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c shared_buffers={SHARED_BUFFERS}"
        )
        pg_ctl = str(bin_dir / "pg_ctl")
        _run(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            _run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run(*command: str) -> None:
    done = subprocess.run(_as_server_user(list(command)), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr or done.stdout}")
