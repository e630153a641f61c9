"""A private, throw-away PostgreSQL cluster that a test may stop and start at will.

Fault tests must not stop the machine's shared server (every other test uses it), so they
run their own: ``initdb`` into a temporary folder owned by the ``postgres`` user, listening
on a free loopback port. PostgreSQL refuses to run as root, hence ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.replicas import free_port

BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if Path("/usr/lib/postgresql").exists()
        else "15"
    )
    / "bin"
)


def available() -> bool:
    return (BIN / "initdb").exists() and shutil.which("runuser") is not None


class PrivatePostgres:
    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vault-pg-"))
        self.data = self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def __enter__(self) -> PrivatePostgres:
        shutil.chown(self.root, "postgres")
        self._as_postgres(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"
        )
        self.start()
        return self

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """Stop at once, as a crash or an outage would: open connections are cut."""
        self._as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
        )

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: sessions are ended, the server is back in about a
        second (what ``pg_ctlcluster ... restart`` does on a Debian host)."""
        self._pg_ctl("-m", "fast", "restart")

    def _pg_ctl(self, *action: str) -> None:
        """``pg_ctl`` starting the server with this cluster's port, socket folder and log."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "log")
        self._as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", *action
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by the test
            self.stop()
        time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
