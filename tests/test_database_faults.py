"""PostgreSQL faults: an outage under load, and a replica killed in the middle of a rotation.

These run the vault as a real process on a private PostgreSQL cluster that the test stops
and starts (tests/pg_cluster.py), so the shared server other tests use is never touched.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BOOTSTRAP_TOKEN, migrate
from tests.factories import CHANNEL_TYPE, new_rsa_key, rsa_key, seller_center_key, signature_body
from tests.pg_cluster import PrivatePostgres, available
from tests.replicas import Replicas
from tests.walmart_sim import SimulatorControl, SimulatorServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not available(), reason="needs PostgreSQL's initdb and runuser"),
]
AUTH = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
DB_TIMEOUT = 2.0


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    with PrivatePostgres({"fsync": "off"}) as pg:  # its data is thrown away
        migrate(pg.url)
        yield pg


def vault_env(pg: PrivatePostgres, local_keks: str, walmart: SimulatorServer) -> dict[str, str]:
    return {
        "VAULT_ENV": "production",
        "VAULT_DATABASE_URL": pg.url,
        "VAULT_LOCAL_KEKS": local_keks,
        "VAULT_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "VAULT_WALMART_PRODUCTION_URL": walmart.base_url,
        "VAULT_WALMART_ALLOW_HTTP": "true",
        "VAULT_DATABASE_TIMEOUT_SECONDS": str(DB_TIMEOUT),
        "VAULT_LOG_LEVEL": "WARNING",
    }


async def test_outage_under_load_fails_fast_and_recovers(
    private_pg: PrivatePostgres,
    local_keks: str,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    tmp_path: Path,
) -> None:
    body = signature_body()
    walmart_control.add_consumer(body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE)
    # No grace: past the staleness bound, an outage is answered 503 at once.
    env = vault_env(private_pg, local_keks, walmart) | {"VAULT_CACHE_OUTAGE_GRACE_SECONDS": "0"}
    with Replicas(1, env, tmp_path) as vault:
        url = vault.urls[0]
        async with httpx.AsyncClient(headers=AUTH, timeout=30) as http:
            created = (await http.post(f"{url}/v1/credentials", json=body)).json()
            path = f"{url}/v1/credentials/{created['id']}/headers"
            request = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
            outcomes: Counter[str] = Counter()
            slowest = 0.0
            stop = asyncio.Event()

            async def load() -> None:
                nonlocal slowest
                while not stop.is_set():
                    started = time.perf_counter()
                    response = await http.post(path, json=request)
                    slowest = max(slowest, time.perf_counter() - started)
                    code = (
                        response.json().get("error", {}).get("code", "")
                        if response.status_code != 200
                        else ""
                    )
                    outcomes[f"{response.status_code} {code}".strip()] += 1

            workers = [asyncio.create_task(load()) for _ in range(8)]
            await asyncio.sleep(0.5)
            private_pg.stop()
            await asyncio.sleep(4)
            ready = await http.get(f"{url}/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "failed"
            during = dict(outcomes)
            private_pg.start()
            deadline = time.monotonic() + 15
            while (await http.get(f"{url}/readyz")).status_code != 200:
                assert time.monotonic() < deadline, "the vault did not recover by itself"
                await asyncio.sleep(0.2)
            recovered = (await http.post(path, json=request)).status_code
            stop.set()
            await asyncio.gather(*workers)
    assert recovered == 200
    assert set(during) <= {"200", "503 database_unavailable"}, during
    assert during.get("503 database_unavailable", 0) > 0, during
    assert slowest < DB_TIMEOUT * 2 + 1, f"a request hung for {slowest:.1f}s"
    print(f"\noutage: {during}; slowest answer {slowest:.2f}s")


WARM_CREDENTIALS = 20
LOADERS = 8


async def test_a_restart_under_load_costs_no_answer_that_memory_can_give(
    private_pg: PrivatePostgres,
    local_keks: str,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    tmp_path: Path,
) -> None:
    """Two vault processes, 20 signature credentials warm in both, 8 clients in a loop over
    both; ``pg_ctl restart -m fast`` in the middle. Every answer is a 200 (the caches hold the
    callers and keys, within the outage grace), no connection is dropped, and no process logs
    an unhandled error. (Two processes rather than one with two workers, so that "warm in
    every worker" is certain rather than likely.)"""
    bodies = [signature_body(account_id=f"warm-{i}") for i in range(WARM_CREDENTIALS)]
    for body in bodies:
        consumer = body["auth"]["consumer_id"]
        walmart_control.add_consumer(consumer, rsa_key(), channel_type=CHANNEL_TYPE)
    env = vault_env(private_pg, local_keks, walmart) | {"VAULT_LOG_LEVEL": "INFO"}
    request = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
    with Replicas(2, env, tmp_path) as vault:
        async with httpx.AsyncClient(headers=AUTH, timeout=30) as http:
            ids = []
            for body in bodies:
                created = await http.post(f"{vault.urls[0]}/v1/credentials", json=body)
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            paths = [f"{u}/v1/credentials/{i}/headers" for i in ids for u in vault.urls]
            for path in paths:  # every credential warm in both processes
                assert (await http.post(path, json=request)).status_code == 200
        answers: Counter[str] = Counter()
        during: Counter[str] = Counter()  # asked while the server was restarting
        restarting = False
        stop = asyncio.Event()

        async def load(index: int) -> None:
            async with httpx.AsyncClient(headers=AUTH, timeout=30) as http:
                turn = index
                while not stop.is_set():
                    turn += 1
                    counted = [answers, during] if restarting else [answers]
                    try:
                        response = await http.post(paths[turn % len(paths)], json=request)
                    except httpx.HTTPError as exc:
                        outcome = f"dropped {type(exc).__name__}"
                    else:
                        code = response.json().get("error", {}).get("code", "")
                        outcome = f"{response.status_code} {code}".strip()
                    for counter in counted:
                        counter[outcome] += 1

        loaders = [asyncio.create_task(load(i)) for i in range(LOADERS)]
        await asyncio.sleep(1.0)
        restarted_at = time.perf_counter()
        restarting = True
        await asyncio.to_thread(private_pg.restart)
        restarting = False
        restart_seconds = time.perf_counter() - restarted_at
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*loaders)
        logs = vault.log(0) + vault.log(1)
    print(
        f"\nrestart under load: {dict(answers)} in all, {dict(during)} asked during the "
        f"{restart_seconds:.2f}s restart"
    )
    assert set(answers) == {"200"}, answers
    assert during["200"] > 0, "no request was asked during the restart"
    assert "Traceback" not in logs
    assert "unhandled exception" not in logs


async def test_replica_killed_mid_rotation_leaves_one_current_version(
    private_pg: PrivatePostgres,
    local_keks: str,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    tmp_path: Path,
) -> None:
    body = signature_body()
    walmart_control.add_consumer(body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE)
    env = vault_env(private_pg, local_keks, walmart)
    new_key = new_rsa_key(1024)
    rotate = {"auth": body["auth"] | {"private_key": seller_center_key(new_key)}}
    with Replicas(1, env, tmp_path) as vault:
        url = vault.urls[0]
        async with httpx.AsyncClient(headers=AUTH, timeout=30) as http:
            created = (await http.post(f"{url}/v1/credentials", json=body)).json()
            walmart_control.add_fault(path_prefix="/v3/ca/feeds", mode="slow", delay_seconds=3)
            rotation = asyncio.create_task(
                http.post(f"{url}/v1/credentials/{created['id']}/rotate", json=rotate)
            )
            await asyncio.sleep(1.0)  # the new version is pending, its live test under way
            vault.processes[0].send_signal(signal.SIGKILL)
            with pytest.raises(httpx.HTTPError):
                await rotation
    walmart_control.clear_faults()
    with Replicas(1, env, tmp_path) as vault:
        url = vault.urls[0]
        async with httpx.AsyncClient(headers=AUTH, timeout=30) as http:
            path = f"{url}/v1/credentials/{created['id']}"
            versions = (await http.get(f"{path}/versions")).json()["items"]
            states = [(v["version"], v["state"]) for v in versions]
            assert [s for s in states if s[1] == "current"] == [(1, "current")]
            assert states == [(2, "pending"), (1, "current")]
            issued = await http.post(
                f"{path}/headers", json={"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
            )
            assert (issued.status_code, issued.json()["version"]) == (200, 1)
            trail = (
                await http.get(f"{url}/v1/audit", params={"credential_id": created["id"]})
            ).json()
            assert [e["action"] for e in trail["items"]] == [
                "credential.rotation_started",
                "credential.created",
            ]
            blocked = await http.post(f"{path}/rotate", json=rotate)
            assert blocked.status_code == 409
