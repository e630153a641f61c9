"""App Store connections on PostgreSQL with two vault processes.

1. Over several token lifetimes, with refresh-token rotation on, the two replicas make one
   ``refresh_token`` call per lifetime between them, and every token they hand out works.
2. A replica is killed with SIGKILL after Walmart answered its refresh (with a new refresh
   token) and before it committed. How the test gets the kill exactly there: it holds a row
   lock on the credential's current version (``SELECT ... FOR UPDATE`` on its own
   connection), so the replica's write of the rotated refresh token blocks inside its open
   transaction. The test waits until the simulator has counted the answered refresh and
   ``pg_stat_activity`` shows that replica's ``UPDATE credential_versions`` waiting on the
   lock, then kills the process and releases the lock. PostgreSQL rolls the orphaned
   transaction back. The other replica then refreshes with the stored (old) refresh token,
   which still works because the lost answer's tokens were never used, and Walmart accepts
   the access token it gets: the connection survived, and nobody needs to reconnect.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import BOOTSTRAP_TOKEN, _postgres_database
from tests.connections.flow import APP_CLIENT_ID, APP_SECRET, CALLBACK, consent
from tests.replicas import Replicas
from tests.walmart_sim import SimulatorControl, SimulatorServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
PUBLIC_URL = "http://vault.replicas.test"
LIFETIME = 8  # seconds per access token
MARGIN = 2  # the vault refreshes a token with this much of it left


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
        "VAULT_PUBLIC_URL": PUBLIC_URL,
        "VAULT_WALMART_CONSENT_URL": f"{walmart.base_url}/consent",
        "VAULT_TOKEN_REFRESH_MARGIN_SECONDS": str(MARGIN),
        "VAULT_LOG_LEVEL": "WARNING",
    }
    with Replicas(2, settings, tmp_path) as running:
        yield running


async def connect_seller(
    http: httpx.AsyncClient, replicas: Replicas, control: SimulatorControl, account: str
) -> dict[str, Any]:
    control.add_app(APP_CLIENT_ID, APP_SECRET, [PUBLIC_URL + CALLBACK], rotate=True)
    apps = (await http.get(f"{replicas.urls[0]}/v1/walmart-apps")).json()["items"]
    if not apps:
        created = await http.post(
            f"{replicas.urls[0]}/v1/walmart-apps",
            json={
                "label": "mPorts",
                "environment": "production",
                "client_id": APP_CLIENT_ID,
                "client_secret": APP_SECRET,
            },
        )
        assert created.status_code == 201, created.text
    link = await http.post(
        f"{replicas.urls[0]}/v1/connections",
        json={"account_id": account, "market": "US", "environment": "production", "label": account},
    )
    assert link.status_code == 201, link.text
    query = await consent(link.json()["consent_url"])
    page = await http.get(f"{replicas.urls[1]}{CALLBACK}", params=query)
    assert page.status_code == 200, page.text
    shown = (await http.get(f"{replicas.urls[0]}/v1/connections/{link.json()['id']}")).json()
    credential: dict[str, Any] = (
        await http.get(f"{replicas.urls[0]}/v1/credentials/{shown['credential_id']}")
    ).json()
    return credential


async def headers(http: httpx.AsyncClient, url: str, account: str, walmart: str) -> str:
    answer = await http.post(
        f"{url}/v1/accounts/{account}/headers",
        json={
            "market": "US",
            "environment": "production",
            "method": "GET",
            "url": f"{walmart}/v3/orders",
        },
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["headers"]["WM_SEC.ACCESS_TOKEN"]
    return token


async def walmart_accepts(walmart: str, token: str) -> bool:
    async with httpx.AsyncClient() as service:
        answer = await service.get(
            f"{walmart}/v3/orders",
            headers={
                "WM_SEC.ACCESS_TOKEN": token,
                "WM_SVC.NAME": "Walmart Marketplace",
                "WM_QOS.CORRELATION_ID": "replica-test",
            },
        )
    return answer.status_code == 200


async def test_two_replicas_refresh_once_per_token_lifetime(
    replicas: Replicas, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    walmart_control.settings(token_lifetime_seconds=LIFETIME)
    auth = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    async with httpx.AsyncClient(headers=auth, timeout=30) as http:
        await connect_seller(http, replicas, walmart_control, "acme-001")
        seen: list[str] = []
        requests = 0
        started = time.monotonic()
        while time.monotonic() - started < 4 * LIFETIME:
            burst = await asyncio.gather(
                *(
                    headers(http, replicas.urls[i % 2], "acme-001", walmart.base_url)
                    for i in range(10)
                )
            )
            requests += len(burst)
            for token in burst:
                if token not in seen:
                    assert await walmart_accepts(walmart.base_url, token)
                    seen.append(token)
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
    grants = walmart_control.stats()["app_store"]["grants"]
    refreshes = grants.get("refresh_token", 0)
    # Every token handed out came from one call, and no call's token went unused.
    assert refreshes == len(seen) - 1
    assert refreshes <= elapsed / (LIFETIME - MARGIN) + 1
    assert refreshes >= 4
    assert walmart_control.stats()["app_store"]["refused"] == {}
    print(
        f"\n2 replicas, {elapsed:.0f} s = {elapsed / LIFETIME:.1f} token lifetimes of "
        f"{LIFETIME} s (refreshed {MARGIN} s before the end): {refreshes} refresh_token calls, "
        f"{len(seen)} distinct access tokens, {requests} header requests"
    )


async def test_a_replica_killed_before_committing_a_rotated_refresh_token_loses_nothing(
    replicas: Replicas,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    postgres_url: str,
) -> None:
    auth = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    dsn = postgres_url.replace("postgresql+asyncpg", "postgresql")
    database = await asyncpg.connect(dsn)
    # Another connection watches: inside a transaction, pg_stat_activity does not change.
    watcher = await asyncpg.connect(dsn)
    async with httpx.AsyncClient(headers=auth, timeout=30) as http:
        credential = await connect_seller(http, replicas, walmart_control, "acme-002")
        sealed_before = await database.fetchval(
            "SELECT sealed_secret FROM credential_versions WHERE credential_id = $1 "
            "AND state = 'current'",
            credential["id"],
        )
        dropped = await http.post(
            f"{replicas.urls[0]}/v1/credentials/{credential['id']}/token/invalidate"
        )
        assert dropped.status_code == 204

        lock = database.transaction()
        await lock.start()
        await database.execute(
            "SELECT 1 FROM credential_versions WHERE credential_id = $1 AND state = 'current' "
            "FOR UPDATE",
            credential["id"],
        )
        victim = asyncio.create_task(headers(http, replicas.urls[0], "acme-002", walmart.base_url))
        await _until_blocked_after_the_answer(watcher, walmart_control)
        os.kill(replicas.processes[0].pid, signal.SIGKILL)
        replicas.processes[0].wait(timeout=10)
        await lock.rollback()
        with pytest.raises(httpx.TransportError):
            await victim

        token = await headers(http, replicas.urls[1], "acme-002", walmart.base_url)
        assert await walmart_accepts(walmart.base_url, token)
        shown = (await http.get(f"{replicas.urls[1]}/v1/credentials/{credential['id']}")).json()
    sealed_after = await database.fetchval(
        "SELECT sealed_secret FROM credential_versions WHERE credential_id = $1 "
        "AND state = 'current'",
        credential["id"],
    )
    await database.close()
    await watcher.close()
    assert shown["status"] == "valid"
    assert shown["status_reason"] is None
    assert sealed_after != sealed_before  # the surviving replica's rotation was committed
    store = walmart_control.stats()["app_store"]
    assert store["grants"] == {"authorization_code": 1, "refresh_token": 2}
    assert store["refused"] == {}
    # The first refresh token, the killed replica's unused one, and the one in use now.
    assert store["refresh_tokens"] == {"retired": 2, "active": 1}


async def _until_blocked_after_the_answer(
    watcher: asyncpg.Connection, control: SimulatorControl
) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answered = control.stats()["app_store"]["grants"].get("refresh_token", 0) == 1
        waiting = await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE 'UPDATE credential_versions%'"
        )
        if answered and waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replica did not reach its write of the rotated refresh token")
