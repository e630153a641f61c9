"""The benchmark's own PostgreSQL server, sized as README "Sizing PostgreSQL" advises.

The machine's server keeps its distribution's defaults (128 MB of ``shared_buffers`` on
Debian), which suit the tests. At 100,000 credentials the rows a cache miss reads (the
credentials and their current versions, about 170 MB with 1,024-bit keys) and the audit
indexes' pages that new events land on do not fit in that: in the scale run about half the
misses read a page from the operating system, and backends wrote out dirty pages to make room
(``pg_stat_bgwriter``): 55 µs of PostgreSQL CPU per answer against 49 with 1 GB. A
production server is sized for its working set, so the benchmark measures the vault on one
that is, and says so in its report; ``--postgres-url`` runs it on any other server instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
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
    found_versions = Path("/usr/lib/postgresql").glob("*/bin/initdb")
    newest = max(found_versions, key=lambda p: int(p.parts[-3]), default=None)
    if newest is None:
        raise RuntimeError(
            "initdb not found: install PostgreSQL's server package, or pass --postgres-url"
        )
    return newest.parent


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", _SERVER_USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def private_server() -> Iterator[str]:
    """A new PostgreSQL server in a folder of its own, stopped and removed on exit; yields
    its admin URL. It listens on no TCP port, only on a socket in that folder (0700, its
    owner's), so ``trust`` lets in nobody else. (Not in the run's work folder: as root, the
    server's user must own it.)"""
    bin_dir = _bin_dir()
    home = Path(tempfile.mkdtemp(prefix="vault-bench-postgres-"))
    data = home / "data"
    pg_ctl = str(bin_dir / "pg_ctl")
    try:
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(_SERVER_USER)
            except KeyError:
                raise RuntimeError(
                    f"as root the bench's server runs as {_SERVER_USER!r}, and there is no such"
                    " user: create it, or pass --postgres-url"
                ) from None
            os.chown(home, user.pw_uid, user.pw_gid)
        initdb = str(bin_dir / "initdb")
        _run(
            initdb,
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        # Settings in the server's own file: pg_ctl's -o goes through a shell, paths and all.
        with (data / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = ''\nunix_socket_directories = '{home}'\n"
                f"shared_buffers = '{SHARED_BUFFERS}'\n"
            )
        _run(pg_ctl, "-D", str(data), "-l", str(home / "server.log"), "-w", "start")
        yield f"postgresql://postgres@/?host={home}"
    finally:
        # Whatever failed: a server that came up is stopped before its folder goes.
        if (data / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                stopped = subprocess.run(
                    _as_server_user([pg_ctl, "-D", str(data), "-m", mode, "-w", "stop"]),
                    capture_output=True,
                    check=False,
                )
                if stopped.returncode == 0:
                    break
        shutil.rmtree(home, ignore_errors=True)


def _run(*command: str) -> None:
    done = subprocess.run(_as_server_user(list(command)), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr or done.stdout}")
