"""Running the simulator as a separate process: ``python -m tests.walmart_sim``.

Multi-process tests and benchmarks need a simulator that shares neither the GIL nor the
event loop with the code under test, so that its latency is not the vault's. The parent
picks a free port (bind to port 0, read it, close), starts the child on it and polls
``GET /_sim/health`` until it answers 200. The small race - another process taking the port
in between - shows up as the child exiting early, and is retried with a fresh port.

The child runs with the project root as working directory, so ``tests.walmart_sim`` is
importable whatever the caller's cwd is.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from .server import base_url_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if client.get(base_url + "/_sim/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False


def stop_subprocess(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it lingers; always reaps."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def start_subprocess(
    port: int | None = None,
    *,
    host: str = "127.0.0.1",
    seed_file: str | os.PathLike[str] | None = None,
    timeout: float = 15.0,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m tests.walmart_sim`` and return ``(process, base_url)`` once healthy.

    The caller owns the process: stop it with :func:`stop_subprocess`. stdout (the one
    "listening on" line) goes to /dev/null; stderr is inherited so crashes stay visible.
    """
    for _ in range(1 if port is not None else 3):
        chosen = port if port is not None else _free_port(host)
        command = [sys.executable, "-m", "tests.walmart_sim", "--host", host, "--port", str(chosen)]
        if seed_file is not None:
            command += ["--seed-file", os.fspath(seed_file)]
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
        base_url = base_url_for(host, chosen)
        if _wait_healthy(process, base_url, timeout):
            return process, base_url
        stop_subprocess(process)
    raise RuntimeError(f"Walmart simulator subprocess did not become healthy on {host}")


class SimulatorProcess:
    """Context-manager wrapper: ``with SimulatorProcess() as sim: ... sim.base_url``."""

    def __init__(self, port: int | None = None, *, seed_file: str | None = None) -> None:
        self.process, self.base_url = start_subprocess(port, seed_file=seed_file)

    def stop(self) -> None:
        stop_subprocess(self.process)

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
