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
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        env.update(self.settings)
        for index in range(self.count):
            port = free_port()
            log_path = self.log_dir / f"replica-{index}.log"
            command = [
                sys.executable, "-m", "app.serve",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers),
            ]  # fmt: skip
            with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
                self.processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )
            self.urls.append(f"http://127.0.0.1:{port}")
        try:
            for index, (url, process) in enumerate(zip(self.urls, self.processes, strict=True)):
                _wait_ready(url, process, functools.partial(self.log, index))
        except RuntimeError:
            self.__exit__(None, None, None)
            raise
        return self

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
