"""Webhooks from real replicas on one PostgreSQL database: a replica killed with SIGKILL in
the middle of a delivery loses nothing (another takes the event over once the dead one's
lease runs out), and two replicas
never both send the same attempt, nor a credential's events out of order."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.webhooks.dispatcher import LEASE_MARGIN
from tests.bench.services import worker_pids
from tests.conftest import BOOTSTRAP_TOKEN, _postgres_database
from tests.factories import signature_body
from tests.replicas import Replicas
from tests.walmart_sim import SimulatorControl, SimulatorServer
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
AUTH = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
# The held delivery must outlast starting the second replica on a busy machine.
SEND_TIMEOUT = 10
LEASE = SEND_TIMEOUT + LEASE_MARGIN.total_seconds()  # how long a claimed delivery stays claimed


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture
def replica_settings(
    postgres_url: str, local_keks: str, walmart: SimulatorServer
) -> dict[str, str]:
    return {
        "VAULT_ENV": "production",
        "VAULT_DATABASE_URL": postgres_url,
        "VAULT_LOCAL_KEKS": local_keks,
        "VAULT_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "VAULT_WALMART_PRODUCTION_URL": walmart.base_url,
        "VAULT_WALMART_ALLOW_HTTP": "true",
        "VAULT_LOG_LEVEL": "WARNING",
        "VAULT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "VAULT_WEBHOOK_POLL_SECONDS": "0.2",
        "VAULT_WEBHOOK_FIRST_RETRY_SECONDS": "0.2",
        "VAULT_WEBHOOK_TIMEOUT_SECONDS": str(SEND_TIMEOUT),
    }


async def subscribe(http: httpx.AsyncClient, url: str, receiver: Receiver, *events: str) -> Any:
    created = await http.post(f"{url}/v1/webhooks", json={"url": receiver.url, "events": events})
    assert created.status_code == 201, created.text
    return created.json()


def kill(replica: Replicas) -> None:
    """SIGKILL the replica's serving processes: no shutdown, no rollback, no goodbye."""
    parent = replica.processes[0].pid
    for pid in {*worker_pids(parent), parent}:
        os.kill(pid, signal.SIGKILL)
    replica.processes[0].wait(timeout=10)


async def test_replica_killed_mid_delivery_loses_nothing(
    replica_settings: dict[str, str], receiver: Receiver, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(headers=AUTH, timeout=10) as http:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
        with Replicas(1, replica_settings, tmp_path / "a") as first:
            hook = await subscribe(http, first.urls[0], receiver, "credential.invalid")
            receiver.hold_next()
            queued = (await http.post(f"{first.urls[0]}/v1/webhooks/{hook['id']}/test")).json()
            assert await asyncio.to_thread(receiver.held.wait, 10), "the delivery never started"
            with Replicas(1, replica_settings, tmp_path / "b") as second:
                await asyncio.sleep(0.5)  # the second replica polls, but the delivery is leased
                assert [r for r in receiver.received if not r.held] == []
                kill(first)
                receiver.release.set()  # its sender is gone: nobody reads this answer
                # The killed replica's lease runs out, then the second one takes it over.
                (delivered,) = await receiver.wait_for(1, within=LEASE + 15)
                assert delivered.webhook_id == queued["event_id"]
                assert delivered.verify(hook["secret"])["type"] == "webhook.test"
                for _ in range(100):  # recorded once the receiver has answered
                    listed = await http.get(f"{second.urls[0]}/v1/webhooks/{hook['id']}/deliveries")
                    (item,) = listed.json()["items"]
                    if item["state"] != "pending":
                        break
                    await asyncio.sleep(0.05)
                # The killed replica never settled its attempt: this one is the first recorded.
                assert (item["state"], item["attempts"]) == ("succeeded", 1)


async def test_two_replicas_never_send_the_same_attempt_nor_out_of_order(
    replica_settings: dict[str, str],
    receiver: Receiver,
    walmart_control: SimulatorControl,
    tmp_path: Path,
) -> None:
    events = ("credential.disabled", "credential.rotated", "credential.deleted")
    async with httpx.AsyncClient(headers=AUTH, timeout=15) as http:
        with Replicas(2, replica_settings, tmp_path) as replicas:
            a, b = replicas.urls
            hook = await subscribe(http, a, receiver, *events)
            tests = [http.post(f"{(a, b)[n % 2]}/v1/webhooks/{hook['id']}/test") for n in range(40)]
            queued = {r.json()["event_id"] for r in await asyncio.gather(*tests)}

            async def lifecycle(n: int) -> str:
                body = signature_body(account_id=f"acct-{n}")
                created = (await http.post(f"{a}/v1/credentials", json=body)).json()
                path = f"/v1/credentials/{created['id']}"
                await http.patch(b + path, json={"disabled": True})
                rotate = {"auth": body["auth"], "test": False}
                assert (await http.post(a + path + "/rotate", json=rotate)).status_code == 200
                assert (await http.delete(b + path)).status_code == 204
                return str(created["id"])

            await asyncio.gather(*(lifecycle(n) for n in range(8)))
            await receiver.wait_for(40 + 8 * 3, within=30)
            await asyncio.sleep(1.0)  # anything sent twice would arrive by now
    ids = [r.webhook_id for r in receiver.received]
    assert len(ids) == len(set(ids)) == 40 + 8 * 3
    assert queued <= set(ids)
    per_credential: defaultdict[str, list[str]] = defaultdict(list)
    for payload in (r.verify(hook["secret"]) for r in receiver.received):
        if payload["type"] != "webhook.test":
            per_credential[payload["data"]["credential_id"]].append(payload["type"])
    assert len(per_credential) == 8
    assert all(types == list(events) for types in per_credential.values()), per_credential
