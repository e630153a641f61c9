"""A private, throw-away PostgreSQL cluster: for tests that stop and start their server, and
for the benchmark, which sizes its own.

Fault tests must not stop the machine's shared server (every other test uses it), and the
benchmark must not depend on that server's settings, so both run their own: ``initdb`` into a
temporary folder, settings written to the cluster's own configuration file (``pg_ctl -o``
goes through a shell, paths and all). PostgreSQL refuses to run as root: as root, the cluster
belongs to the ``postgres`` user (``runuser``). Without a TCP port it listens only on a
socket in that folder (0700, its owner's), so ``trust`` lets nobody else in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tests.replicas import free_port

_ROOT = Path("/usr/lib/postgresql")
_VERSIONS = sorted((p for p in _ROOT.glob("*/bin/initdb")), key=lambda p: int(p.parts[-3]))
BIN = _VERSIONS[-1].parent if _VERSIONS else _ROOT / "15" / "bin"
_SERVER_USER = "postgres"


def available() -> bool:
    return (BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser") is not None)


class PrivatePostgres:
    def __init__(self, settings: Mapping[str, str] | None = None, *, over_tcp: bool = True) -> None:
        self.port = free_port() if over_tcp else 5432  # without TCP: only the socket's name
        self.over_tcp = over_tcp
        self.settings = dict(settings or {})
        self.root = Path(tempfile.mkdtemp(prefix="vault-pg-"))
        self.data = self.root / "data"

    @property
    def server(self) -> str:
        """``postgresql://user@host:port`` without a database (a socket's folder as ``?host=``)."""
        if self.over_tcp:
            return f"postgresql://postgres@127.0.0.1:{self.port}"
        return f"postgresql://postgres@/?host={self.root}"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        if self.over_tcp:
            return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        return f"postgresql+asyncpg://postgres@/postgres?host={self.root}"

    def _as_postgres(self, *command: str) -> None:
        as_user = ["runuser", "-u", _SERVER_USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_user, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(
                done.returncode, command, done.stdout, f"{Path(command[0]).name}: {done.stderr}"
            )

    def __enter__(self) -> PrivatePostgres:
        try:
            if os.geteuid() == 0:
                shutil.chown(self.root, _SERVER_USER)
            self._as_postgres(
                str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--locale=C.UTF-8",
            )  # fmt: skip
            listen = "127.0.0.1" if self.over_tcp else ""
            settings = {
                "port": str(self.port),
                "listen_addresses": listen,
                "unix_socket_directories": str(self.root),
            } | self.settings
            with (self.data / "postgresql.auto.conf").open("a") as conf:
                conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())
            self.start()
        except BaseException:
            self.__exit__(None, None, None)  # a server that came up is stopped, the folder goes
            raise
        return self

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """Stop at once, as a crash or an outage would: open connections are cut."""
        self._pg_ctl("-m", "immediate", "stop")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: sessions are ended, the server is back in about a
        second (what ``pg_ctlcluster ... restart`` does on a Debian host)."""
        self._pg_ctl("-m", "fast", "restart")

    def _pg_ctl(self, *action: str) -> None:
        log = str(self.root / "log")
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", *action)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):  # stopped meanwhile
                self.stop()
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
