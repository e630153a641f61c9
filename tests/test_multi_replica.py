"""Three vault processes on one PostgreSQL database share one Walmart token.

300 concurrent header requests for one OAuth credential, spread over the replicas: exactly one
token call reaches Walmart, and every answer carries that token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bench.services import worker_pids
from tests.conftest import BOOTSTRAP_TOKEN, _postgres_database
from tests.factories import (
    CHANNEL_TYPE,
    new_rsa_key,
    oauth_body,
    rsa_key,
    seller_center_key,
    signature_body,
)
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
        "VAULT_WALMART_ALLOW_HTTP": "true",
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


async def _until(check: Any, limit: float) -> float:
    """Seconds until ``check()`` is true (polling every 10 ms), failing past ``limit``."""
    started = time.perf_counter()
    while not await check():
        assert time.perf_counter() - started < limit, "change not seen in time"
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def test_changes_reach_every_replica_within_the_staleness_bound(
    replicas: Replicas, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    auth = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    body = signature_body()
    walmart_control.add_consumer(body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE)
    request = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(headers=auth, timeout=10) as http:
        by_account = request | {"market": "CA", "environment": "production"}

        async def account_answers_are(status: int) -> bool:
            answers = [
                await http.post(f"{u}/v1/accounts/{body['account_id']}/headers", json=by_account)
                for u in replicas.urls[1:]
            ]
            return all(a.status_code == status for a in answers)

        assert await account_answers_are(404)  # each replica now knows the slot as empty
        created = (await http.post(f"{replicas.urls[0]}/v1/credentials", json=body)).json()
        seen["create"] = await _until(lambda: account_answers_are(200), 1.5)
        path = f"/v1/credentials/{created['id']}"
        for url in replicas.urls:  # warm every replica's caches
            assert (await http.post(url + path + "/headers", json=request)).status_code == 200

        async def statuses_are(status: int) -> bool:
            answers = [
                await http.post(u + path + "/headers", json=request) for u in replicas.urls[1:]
            ]
            return all(a.status_code == status for a in answers)

        await http.patch(replicas.urls[0] + path, json={"disabled": True})
        seen["disable"] = await _until(lambda: statuses_are(409), 2.0)
        await http.patch(replicas.urls[0] + path, json={"disabled": False})
        seen["enable"] = await _until(lambda: statuses_are(200), 2.0)

        new_key = new_rsa_key(1024)
        rotate = {
            "auth": body["auth"] | {"private_key": seller_center_key(new_key)},
            "test": False,
        }
        assert (
            await http.post(replicas.urls[0] + path + "/rotate", json=rotate)
        ).status_code == 200

        async def on_version_2() -> bool:
            answers = [
                await http.post(u + path + "/headers", json=request) for u in replicas.urls[1:]
            ]
            return all(a.json()["version"] == 2 for a in answers)

        seen["rotate"] = await _until(on_version_2, 2.0)
        await http.delete(replicas.urls[0] + path)
        seen["delete"] = await _until(lambda: statuses_are(404), 2.0)

        made = await http.post(
            f"{replicas.urls[0]}/v1/clients", json={"name": "svc", "scopes": ["credentials:read"]}
        )
        token = {"Authorization": f"Bearer {made.json()['token']}"}
        for url in replicas.urls:  # every replica caches this caller
            assert (await http.get(f"{url}/v1/credentials", headers=token)).status_code == 200
        await http.delete(f"{replicas.urls[0]}/v1/clients/{made.json()['id']}")

        async def refused_everywhere() -> bool:
            answers = [await http.get(f"{u}/v1/credentials", headers=token) for u in replicas.urls]
            return all(a.status_code == 401 for a in answers)

        seen["revoke"] = await _until(refused_everywhere, 2.0)
    print("\nstaleness across replicas (s):", {k: round(v, 3) for k, v in seen.items()})


async def test_metrics_are_summed_over_workers(
    postgres_url: str,
    local_keks: str,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    tmp_path: Path,
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    settings = {
        "VAULT_ENV": "production",
        "VAULT_DATABASE_URL": postgres_url,
        "VAULT_LOCAL_KEKS": local_keks,
        "VAULT_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "VAULT_WALMART_PRODUCTION_URL": walmart.base_url,
        "VAULT_WALMART_ALLOW_HTTP": "true",
    }
    body = signature_body(account_id="metrics-acct")
    walmart_control.add_consumer(body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE)
    auth = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    with Replicas(1, settings, tmp_path, workers=2) as vault:
        metrics_dir = _metrics_dir_of(vault.processes[0].pid)
        # A new connection per request, so both workers answer some of them.
        async with httpx.AsyncClient(
            headers=auth, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
        ) as http:
            url = vault.urls[0]
            created = (await http.post(f"{url}/v1/credentials", json=body)).json()
            request = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
            for _ in range(40):
                issued = await http.post(
                    f"{url}/v1/credentials/{created['id']}/headers", json=request
                )
                assert issued.status_code == 200
            seen = set()
            for _ in range(10):
                text = (await http.get(f"{url}/metrics")).text
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        if (
                            sample.name == "vault_headers_issued_total"
                            and sample.labels["kind"] == "signature"
                        ):
                            seen.add(sample.value)
    assert seen == {40.0}
    assert _removed(metrics_dir)  # by the launcher, when it stopped


def _metrics_dir_of(launcher: int) -> str:
    """The launcher's metrics folder, from a worker's environment (the launcher's own
    ``/proc/<pid>/environ`` shows what it started with, not what it set)."""
    environ = Path(f"/proc/{worker_pids(launcher)[0]}/environ").read_bytes().split(b"\0")
    prefix = b"VAULT_METRICS_DIR="
    return next(v.removeprefix(prefix).decode() for v in environ if v.startswith(prefix))


def _removed(folder: str) -> bool:
    return not Path(folder).exists()
