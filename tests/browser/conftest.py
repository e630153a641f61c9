"""Browser tests: the vault served by uvicorn on loopback, driven by Debian's Chromium.

Playwright's own browser download cannot work here, so Playwright for Python drives the system
``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it). Every request that leaves
loopback is aborted and recorded, and every Content Security Policy violation the browser
reports is recorded, so a test can assert that a page needs nothing from outside and breaks no
rule of its own policy.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.async_api import Browser, Page, Route, async_playwright
from pydantic import AnyHttpUrl
from starlette.types import ASGIApp

from app.config import Settings
from app.main import create_app
from tests.conftest import _empty_tables
from tests.replicas import free_port

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# The flags that keep Chromium from calling home on this closed network (each refused call
# would be noise, or a hang at start-up).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class LiveVault:
    """The vault served over real HTTP at :attr:`url`, with the settings it runs on."""

    url: str
    settings: Settings


@dataclass
class BrowserPage:
    """A fresh browser tab, with what it tried to load from outside and the CSP violations."""

    page: Page
    outside_requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def assert_self_contained(self) -> None:
        assert self.outside_requests == [], f"requests beyond loopback: {self.outside_requests}"
        assert self.csp_violations == [], f"CSP violations: {self.csp_violations}"


@contextmanager
def served(
    app: ASGIApp, port: int, *, before: Callable[[], Awaitable[None]] | None = None
) -> Iterator[str]:
    """``app`` served by uvicorn on loopback ``port`` in a thread; yields its base URL.

    ``log_config=None`` leaves the test process's logging alone (pytest swaps ``sys.stderr``).
    """
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )

    async def serve() -> None:
        if before is not None:
            await before()
        await server.serve()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting: see the log"
        assert time.monotonic() < deadline, "the server did not start within 30 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def live_vault(settings: Settings) -> Iterator[LiveVault]:
    """The real app (on the test's database, emptied) served over HTTP on loopback.

    ``VAULT_PUBLIC_URL`` is the server's own address, so links the vault builds open here.
    """
    port = free_port()
    public = settings.model_copy(update={"public_url": AnyHttpUrl(f"http://127.0.0.1:{port}")})
    empty = functools.partial(_empty_tables, public.database_url)
    with served(create_app(public), port, before=empty) as url:
        yield LiveVault(url=url, settings=public)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    # The async API, on the tests' own event loop: the sync one runs a loop of its own in the
    # main thread, which breaks every later test that starts one.
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true needs Debian's chromium (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def browser_page(browser: Browser) -> AsyncIterator[BrowserPage]:
    """A new tab in a new context (no cookies shared between tests), outside traffic blocked."""
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(10_000)
    watched = BrowserPage(page=page)

    async def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK_HOSTS:
            await route.continue_()
        else:
            watched.outside_requests.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_loopback)
    page.on(
        "console",
        lambda message: (
            watched.csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    try:
        yield watched
    finally:
        await context.close()
