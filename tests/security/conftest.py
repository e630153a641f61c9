"""Fixtures of the security suite, and the counts it prints at the end of the run.

Tests add to ``security_counts`` (fuzz cases run, matrix cells checked, hostile cases); the
terminal summary prints the totals so a CI log shows how much was actually exercised.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from tests.conftest import BOOTSTRAP_TOKEN
from tests.security.world import Newer, World, build_newer, build_world
from tests.walmart_sim import SimulatorControl, SimulatorServer

COUNTS: Counter[str] = Counter()


@pytest.fixture
def security_counts() -> Counter[str]:
    return COUNTS


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhooks may go to loopback, so the suite can create the endpoints it attacks."""
    return settings.model_copy(update={"webhook_allowed_hosts": "127.0.0.1"})


@pytest.fixture
async def http(vault_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client`` (the bootstrap admin), but an unhandled error arrives as the 500 a real
    server would send instead of being raised into the test."""
    transport = httpx.ASGITransport(app=vault_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://vault.test",
        headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
    ) as client:
        yield client


@pytest.fixture
async def world(
    http: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> World:
    return await build_world(http, walmart_control, walmart.base_url)


@pytest.fixture
async def newer(http: httpx.AsyncClient, world: World) -> Newer:
    return await build_newer(http, world)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTS:
        terminalreporter.section("security counts")
        for name, count in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{name}: {count}")
