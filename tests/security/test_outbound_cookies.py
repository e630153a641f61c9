"""No outbound client of the vault keeps a cookie: one answer that sets one (from Walmart or a
webhook receiver) must never ride on the next call, which may be another tenant's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from app.state import AppState


class CookieSetter:
    """A real server on loopback: every answer sets a cookie; it records the Cookie headers
    it is sent."""

    def __init__(self) -> None:
        self.cookies_sent: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.cookies_sent.append(self.headers.get("cookie"))
                self.send_response(200)
                self.send_header("set-cookie", "tenant=acme-001; Path=/")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v3/orders"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def cookie_setter() -> Iterator[CookieSetter]:
    server = CookieSetter()
    yield server
    server.close()


@pytest.mark.parametrize("which", ["proxy", "walmart", "webhooks"])
async def test_an_answer_setting_a_cookie_is_never_replayed(
    vault_state: AppState, cookie_setter: CookieSetter, which: str
) -> None:
    http: httpx.AsyncClient = {
        "proxy": vault_state.proxy.http,
        "walmart": vault_state.tester.walmart.http,
        "webhooks": vault_state.webhooks.sender.http,
    }[which]
    first = await http.get(cookie_setter.url)
    assert "tenant=acme-001" in first.headers["set-cookie"]  # the answer did set one
    await http.get(cookie_setter.url)
    assert cookie_setter.cookies_sent == [None, None]
    assert not http.cookies
