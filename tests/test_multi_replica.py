"""Three vault processes on one PostgreSQL database share one Walmart token.

300 concurrent header requests for one OAuth credential, spread over the replicas: exactly one
token call reaches Walmart, and every answer carries that token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BOOTSTRAP_TOKEN, _postgres_database
from tests.factories import oauth_body
from tests.replicas import Replicas
from tests.walmart_sim import SimulatorControl, SimulatorServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture
def replicas(
    postgres_url: str, local_keks: str, walmart: SimulatorServer, tmp_path: Path
) -> Iterator[Replicas]:
    settings = {
        "VAULT_ENV": "production",
        "VAULT_DATABASE_URL": postgres_url,
        "VAULT_LOCAL_KEKS": local_keks,
        "VAULT_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "VAULT_WALMART_PRODUCTION_URL": walmart.base_url,
        "VAULT_LOG_LEVEL": "WARNING",
    }
    with Replicas(3, settings, tmp_path) as running:
        yield running


async def test_300_concurrent_requests_make_one_token_call(
    replicas: Replicas, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    auth = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    body = oauth_body()
    walmart_control.add_oauth_client(body["auth"]["client_id"], body["auth"]["client_secret"])
    limits = httpx.Limits(max_connections=300)
    async with httpx.AsyncClient(headers=auth, timeout=30, limits=limits) as http:
        created = await http.post(f"{replicas.urls[0]}/v1/credentials", json=body)
        assert created.status_code == 201, created.text
        path = f"/v1/credentials/{created.json()['id']}/headers"
        request = {"method": "GET", "url": walmart.base_url + "/v3/orders?limit=100"}
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(http.post(replicas.urls[i % 3] + path, json=request) for i in range(300))
        )
        elapsed = time.perf_counter() - started
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 300, {s: statuses.count(s) for s in set(statuses)}
    tokens = {r.json()["headers"]["WM_SEC.ACCESS_TOKEN"] for r in responses}
    assert len(tokens) == 1
    stats = walmart_control.stats()
    assert stats["token_calls"] == {body["auth"]["client_id"]: 1}
    print(f"\n300 requests over 3 replicas in {elapsed:.2f}s; token calls: 1")
