"""Running the simulator as a real HTTP server on loopback, in a background thread.

:class:`SimulatorServer` runs uvicorn in a background thread with its own event loop. It
binds port 0 so parallel test runs never collide, then reads the port the kernel picked
back from uvicorn's listening socket. uvicorn is configured with ``log_config=None`` so it
does not rewire logging handlers in the test process (pytest swaps ``sys.stderr``; a
handler bound to a swapped stream fails later), ``proxy_headers=False`` so the scheme and
host used to rebuild signed URLs are the client's own, and a short graceful-shutdown
timeout so a ``slow`` fault in flight cannot hold ``stop()`` hostage.

One instance serves one start/stop cycle. For a simulator in its own process see
:mod:`.process`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType

import uvicorn

from .app import create_app
from .parsing import apply_seed
from .state import SimulatorState


def base_url_for(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class SimulatorServer:
    """``with SimulatorServer() as sim: httpx.get(sim.base_url + "/_sim/health")``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: Mapping[str, object] | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        # Only the server's loop thread may touch ``state`` while running; it is exposed for
        # post-mortem inspection after ``stop()`` and for single-threaded unit tests.
        self.state = SimulatorState()
        if seed is not None:
            apply_seed(self.state, dict(seed))
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
        return base_url_for(self.host, self.port)

    def start(self) -> SimulatorServer:
        if self._thread is not None:
            return self
        if self._server.started:  # uvicorn.Server objects are single-use
            raise RuntimeError("a SimulatorServer cannot be restarted; create a new one")
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
