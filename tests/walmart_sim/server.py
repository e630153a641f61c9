"""Running the simulator as a real HTTP server on loopback: in a thread or as a process.

:class:`SimulatorServer` runs uvicorn in a background thread with its own event loop. It
binds port 0 so parallel test runs never collide, then reads the port the kernel picked
back from uvicorn's listening socket. uvicorn is configured with ``log_config=None`` so it
does not rewire logging handlers in the test process (pytest swaps ``sys.stderr``; a
handler bound to a swapped stream fails later), ``proxy_headers=False`` so the scheme and
host used to rebuild signed URLs are the client's own, and a short graceful-shutdown
timeout so a ``slow`` fault in flight cannot hold ``stop()`` hostage.

:func:`start_subprocess` runs ``python -m tests.walmart_sim`` as a separate process, for
multi-process tests and benchmarks where the simulator must not share the GIL or event
loop with the code under test. Readiness is ``GET /_sim/health`` answering 200.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx
import uvicorn

from .app import create_app
from .control_api import apply_seed
from .state import SimulatorState

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class SimulatorServer:
    """``with SimulatorServer() as sim: httpx.get(sim.base_url + "/_sim/health")``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: dict[str, object] | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        # Only the server's loop thread may touch ``state`` while running; it is exposed for
        # post-mortem inspection after ``stop()`` and for single-threaded unit tests.
        self.state = SimulatorState()
        if seed is not None:
            apply_seed(self.state, seed)
        self.host = host
        self.port = port
        self._startup_timeout = startup_timeout
        config = uvicorn.Config(
            create_app(self.state),
            host=host,
            port=port,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return _url(self.host, self.port)

    def start(self) -> SimulatorServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="walmart-sim", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._thread = None
                raise RuntimeError(f"Walmart simulator failed to start on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("Walmart simulator did not start in time")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        # "started" means listening; one real connect proves the accept path works too.
        with socket.create_connection((self.host, self.port), timeout=self._startup_timeout):
            pass
        return self

    def _run(self) -> None:
        # asyncio.run creates and, crucially, closes the loop: no unclosed-loop warnings.
        asyncio.run(self._server.serve())

    def stop(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            self._server.force_exit = True
            thread.join(timeout)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _free_port(host: str) -> int:
    # Small race (another process may grab it before the child binds); start_subprocess
    # retries with a new port when the child exits early.
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
        base_url = _url(host, chosen)
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
