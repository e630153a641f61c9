"""A webhook receiver: a real HTTP server on loopback, in a thread, that records what it is
sent and answers as a test tells it (fail the next N, hold the next one until released).

Signatures are checked by the tests with the ``standardwebhooks`` package, the way an mPorts
service would check them, not by this server: it keeps exactly the bytes and headers it got.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    at: float
    held: bool = False  # held until released: its sender may be gone by then

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> dict[str, Any]:
        """The payload, if the signature verifies with ``secret`` (raises otherwise)."""
        verified: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return verified


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[int] = deque()
        self.holding = 0
        self.held = threading.Event()  # set while a held request waits
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self.answers.extend([status] * count)

    def hold_next(self) -> None:
        """The next request waits (no answer) until ``release`` is set."""
        with self._lock:
            self.holding += 1
            self.release.clear()

    def of_type(self, event_type: str, secret: str) -> list[dict[str, Any]]:
        return [p for p in (r.verify(secret) for r in self.received) if p["type"] == event_type]

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """Wait (without blocking the event loop) until ``count`` successful deliveries came."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            ok = [r for r in self.received if 200 <= r.status < 300 and not r.held]
            if len(ok) >= count:
                return ok
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests received, wanted {count} ok")

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def _answer(self) -> tuple[int, bool]:
        with self._lock:
            hold = self.holding > 0
            if hold:
                self.holding -= 1
            status = self.answers.popleft() if self.answers else 204
        return status, hold

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                status, hold = receiver._answer()
                if hold:
                    receiver.held.set()
                    receiver.release.wait(60)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.received.append(Received(headers, body, status, time.time(), hold))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows what the tests assert

        return Handler
