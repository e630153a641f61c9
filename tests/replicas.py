"""Running the vault as real uvicorn processes (several replicas on one database)."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIND_ATTEMPTS = 3
ADDRESS_IN_USE = "address already in use"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Replicas:
    """``count`` vault processes (``python -m app.serve``, each with ``workers`` uvicorn
    workers) serving the given VAULT_ settings."""

    def __init__(
        self, count: int, settings: dict[str, str], log_dir: Path, workers: int = 1
    ) -> None:
        self.count = count
        self.settings = settings
        self.log_dir = log_dir
        self.workers = workers
        self.processes: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []

    def __enter__(self) -> Replicas:
        for index in range(self.count):
            self.processes.append(self._start(index))
        try:
            for index in range(self.count):
                self._wait_ready(index)
        except RuntimeError:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self, index: int) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        env.update(self.settings)
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "app.serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(self.workers),
        ]
        url = f"http://127.0.0.1:{port}"
        if index < len(self.urls):
            self.urls[index] = url
        else:
            self.urls.append(url)
        with (self.log_dir / f"replica-{index}.log").open("wb") as log:  # the child keeps a copy
            return subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def _wait_ready(self, index: int) -> None:
        # free_port() closes its socket before uvicorn binds: on a busy machine another process
        # (or an outgoing connection's ephemeral port) can take it first. Then try another port.
        for attempt in range(BIND_ATTEMPTS):
            process = self.processes[index]
            try:
                _wait_ready(self.urls[index], process, functools.partial(self.log, index))
                return
            except RuntimeError:
                port_taken = process.poll() is not None and ADDRESS_IN_USE in self.log(index)
                if not port_taken or attempt == BIND_ATTEMPTS - 1:
                    raise
            self.processes[index] = self._start(index)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log(self, index: int) -> str:
        return (self.log_dir / f"replica-{index}.log").read_text(errors="replace")


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Callable[[], str], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log()[-3000:]
            raise RuntimeError(f"replica at {url} exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"replica at {url} did not become ready")
