"""A change typed by hand in SQL reaches every replica: the database announces it.

Two vault processes on one PostgreSQL database, with a staleness bound of 30 s: a revocation,
disable, delete or version change made with plain SQL (not through the vault) is seen by both
replicas within 2 s, so only the database's notification can have told them. A last-used stamp
announces nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest

from app.changes import CHANNEL
from tests.conftest import BOOTSTRAP_TOKEN, _postgres_database
from tests.factories import CHANNEL_TYPE, new_rsa_key, rsa_key, seller_center_key, signature_body
from tests.replicas import Replicas
from tests.walmart_sim import SimulatorControl, SimulatorServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BOUND = 30.0  # the replicas' staleness bound: far longer than the test waits
SEEN_WITHIN = 2.0
AUTH = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture(scope="module")
def replicas(
    postgres_url: str,
    local_keks: str,
    walmart: SimulatorServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replicas]:
    settings = {
        "VAULT_ENV": "production",
        "VAULT_DATABASE_URL": postgres_url,
        "VAULT_LOCAL_KEKS": local_keks,
        "VAULT_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "VAULT_WALMART_PRODUCTION_URL": walmart.base_url,
        "VAULT_WALMART_ALLOW_HTTP": "true",
        "VAULT_CACHE_MAX_STALENESS_SECONDS": str(BOUND),
        "VAULT_LOG_LEVEL": "WARNING",
    }
    with Replicas(2, settings, tmp_path_factory.mktemp("replicas")) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(headers=AUTH, timeout=10) as client:
        yield client


async def _sql(postgres_url: str, statement: str, *args: object) -> None:
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def _everywhere(
    replicas: Replicas, answer: Callable[[str], Awaitable[httpx.Response]], status: int
) -> float:
    """Seconds until every replica gives ``status``, failing past ``SEEN_WITHIN``."""
    started = time.perf_counter()
    while True:
        statuses = [(await answer(url)).status_code for url in replicas.urls]
        if statuses == [status] * len(replicas.urls):
            return time.perf_counter() - started
        assert time.perf_counter() - started < SEEN_WITHIN, statuses
        await asyncio.sleep(0.02)


async def _signature_credential(
    http: httpx.AsyncClient, replicas: Replicas, control: SimulatorControl, account: str
) -> str:
    body = signature_body(account_id=account)
    control.add_consumer(body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE)
    created = await http.post(f"{replicas.urls[0]}/v1/credentials", json=body)
    assert created.status_code == 201, created.text
    credential_id: str = created.json()["id"]
    return credential_id


def _issue(
    http: httpx.AsyncClient, walmart: SimulatorServer, credential_id: str
) -> Callable[[str], Awaitable[httpx.Response]]:
    request = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}

    async def answer(url: str) -> httpx.Response:
        return await http.post(f"{url}/v1/credentials/{credential_id}/headers", json=request)

    return answer


async def test_a_client_revoked_by_sql_is_refused_by_every_replica(
    replicas: Replicas, postgres_url: str, http: httpx.AsyncClient
) -> None:
    made = await http.post(
        f"{replicas.urls[0]}/v1/clients", json={"name": "by-hand", "scopes": ["credentials:read"]}
    )
    token = {"Authorization": f"Bearer {made.json()['token']}"}

    async def listing(url: str) -> httpx.Response:
        return await http.get(f"{url}/v1/credentials", headers=token)

    await _everywhere(replicas, listing, 200)  # every replica caches this caller
    await _sql(postgres_url, "UPDATE api_clients SET revoked_at = now() WHERE id = $1", _id(made))
    print(f"\nSQL revocation seen everywhere in {await _everywhere(replicas, listing, 401):.3f}s")


async def test_a_credential_disabled_by_sql_is_refused_by_every_replica(
    replicas: Replicas,
    postgres_url: str,
    http: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    credential_id = await _signature_credential(http, replicas, walmart_control, "by-hand-off")
    issue = _issue(http, walmart, credential_id)
    await _everywhere(replicas, issue, 200)
    await _sql(
        postgres_url,
        "UPDATE credentials SET status = 'disabled' WHERE id = $1::uuid",
        credential_id,
    )
    print(f"\nSQL disable seen everywhere in {await _everywhere(replicas, issue, 409):.3f}s")
    await _sql(
        postgres_url, "UPDATE credentials SET status = 'valid' WHERE id = $1::uuid", credential_id
    )
    await _everywhere(replicas, issue, 200)


async def test_a_credential_deleted_by_sql_is_gone_from_every_replica(
    replicas: Replicas,
    postgres_url: str,
    http: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    credential_id = await _signature_credential(http, replicas, walmart_control, "by-hand-gone")
    issue = _issue(http, walmart, credential_id)
    await _everywhere(replicas, issue, 200)
    await _sql(postgres_url, "DELETE FROM credentials WHERE id = $1::uuid", credential_id)
    print(f"\nSQL delete seen everywhere in {await _everywhere(replicas, issue, 404):.3f}s")


async def test_a_version_changed_by_sql_is_signed_with_by_every_replica(
    replicas: Replicas,
    postgres_url: str,
    http: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    credential_id = await _signature_credential(http, replicas, walmart_control, "by-hand-v")
    body = signature_body(account_id="by-hand-v")
    rotate = {
        "auth": body["auth"] | {"private_key": seller_center_key(new_rsa_key(1024))},
        "test": False,
    }
    path = f"{replicas.urls[0]}/v1/credentials/{credential_id}"
    rotated = await http.post(f"{path}/rotate", json=rotate)
    assert rotated.status_code == 200, rotated.text
    issue = _issue(http, walmart, credential_id)

    async def on_version(version: int) -> float:
        started = time.perf_counter()
        while True:
            versions = [(await issue(url)).json()["version"] for url in replicas.urls]
            if versions == [version] * len(replicas.urls):
                return time.perf_counter() - started
            assert time.perf_counter() - started < SEEN_WITHIN, versions
            await asyncio.sleep(0.02)

    await on_version(2)
    # Back to version 1 by hand (an operator undoing a rotation), one statement at a time.
    for statement in (
        "UPDATE credential_versions SET state = 'previous' WHERE credential_id = $1::uuid "
        "AND version = 2",
        "UPDATE credential_versions SET state = 'current' WHERE credential_id = $1::uuid "
        "AND version = 1",
        "UPDATE credentials SET current_version = 1 WHERE id = $1::uuid",
    ):
        await _sql(postgres_url, statement, credential_id)
    print(f"\nSQL version change seen everywhere in {await on_version(1):.3f}s")


async def test_a_last_used_stamp_announces_nothing(
    replicas: Replicas, postgres_url: str, http: httpx.AsyncClient
) -> None:
    heard: list[str] = []
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    listening = await asyncpg.connect(dsn)
    try:
        await listening.add_listener(CHANNEL, lambda *args: heard.append(args[-1]))
        made = await http.post(
            f"{replicas.urls[0]}/v1/clients", json={"name": "stamp", "scopes": ["audit:read"]}
        )
        client_id = _id(made)
        await _sql(
            postgres_url, "UPDATE api_clients SET last_used_at = now() WHERE id = $1", client_id
        )
        await _sql(postgres_url, "UPDATE api_clients SET name = 'renamed' WHERE id = $1", client_id)
        await listening.fetchval("SELECT 1")  # answered after every notification before it
        # the rename only
        assert [h for h in heard if h.startswith("client:")] == [f"client:{client_id}"]
    finally:
        await listening.close()


def _id(made: httpx.Response) -> uuid.UUID:
    assert made.status_code == 201, made.text
    return uuid.UUID(made.json()["id"])
