"""Without notifications (SQLite, or a lost LISTEN connection) the recheck bounds staleness."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.api.walmart_setup import signature_credential
from tests.conftest import BOOTSTRAP_TOKEN
from tests.walmart_sim import SimulatorControl, SimulatorServer


async def test_second_process_sees_a_disable_within_the_bound(
    client: httpx.AsyncClient,
    settings: Settings,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL replicas are told at once (see tests/test_multi_replica.py)")
    credential = await signature_credential(client, walmart_control)
    other = create_app(settings)
    request = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
    path = f"/v1/credentials/{credential['id']}/headers"
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://other.test",
            headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
        ) as replica:
            assert (await replica.post(path, json=request)).status_code == 200
            await client.patch(f"/v1/credentials/{credential['id']}", json={"disabled": True})
            # The replica trusts what it read for the bound, counted from its read (which came
            # before the disable); the slack covers one round trip on a busy 2-core machine.
            deadline = time.perf_counter() + settings.cache_max_staleness_seconds + 1.0
            statuses = []
            while time.perf_counter() < deadline:
                statuses.append((await replica.post(path, json=request)).status_code)
                if statuses[-1] != 200:
                    break
                await asyncio.sleep(0.05)
    assert statuses[-1] == 409, f"still {statuses[-1]} after the bound"
    assert set(statuses) <= {200, 409}
