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

from tests.conftest import BOOTSTRAP_TOKEN
from tests.security.world import World, build_world
from tests.walmart_sim import SimulatorControl, SimulatorServer

COUNTS: Counter[str] = Counter()


@pytest.fixture
def security_counts() -> Counter[str]:
    return COUNTS


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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTS:
        terminalreporter.section("security counts")
        for name, count in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{name}: {count}")
