"""Drift detection: scheduled re-tests notice keys that Walmart deactivated."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.credentials.drift import LOCK_KEY
from app.state import AppState
from tests.api.test_rotation import rows
from tests.api.walmart_setup import signature_credential
from tests.walmart_sim import SimulatorControl


async def valid_credential(
    client: httpx.AsyncClient, control: SimulatorControl, account: str
) -> str:
    credential = await signature_credential(client, control, account_id=account)
    result = await client.post(f"/v1/credentials/{credential['id']}/test")
    assert result.json()["outcome"] == "valid"
    return str(credential["id"])


async def status(client: httpx.AsyncClient, credential_id: str) -> str:
    return str((await client.get(f"/v1/credentials/{credential_id}")).json()["status"])


async def test_regenerated_key_is_marked_invalid(
    client: httpx.AsyncClient,
    settings: Settings,
    vault_state: AppState,
    walmart_control: SimulatorControl,
) -> None:
    ids = [await valid_credential(client, walmart_control, f"acct-{n}") for n in range(3)]
    consumer = (await client.get(f"/v1/credentials/{ids[1]}")).json()["consumer_id"]
    walmart_control.remove_consumer(consumer)
    outcomes = await vault_state.drift.run_once()
    assert outcomes == {"valid": 2, "invalid_credentials": 1}
    assert [await status(client, i) for i in ids] == ["valid", "invalid", "valid"]
    invalid = (await client.get("/v1/credentials", params={"status": "invalid"})).json()["items"]
    assert [c["id"] for c in invalid] == [ids[1]]
    scheduled = await rows(
        settings,
        "SELECT outcome FROM audit_events WHERE action = 'credential.tested' "
        "AND client_id IS NULL ORDER BY id",
    )
    assert sorted(scheduled) == [("invalid_credentials",), ("valid",), ("valid",)]
    # An invalid credential is not re-tested by the schedule (an operator rotates it).
    assert await vault_state.drift.run_once() == {"valid": 2}


async def test_rate_limit_pauses_the_pass_and_retries(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    credential_id = await valid_credential(client, walmart_control, "acct-rl")
    walmart_control.add_fault(
        path_prefix="/v3/ca/feeds", mode="status", status=429, retry_after=1, times=1
    )
    started = time.perf_counter()
    outcomes = await vault_state.drift.run_once()
    assert outcomes == {"valid": 1}
    assert time.perf_counter() - started >= 1.0
    assert await status(client, credential_id) == "valid"


async def test_schedule_runs_in_the_background(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    credential_id = await valid_credential(client, walmart_control, "acct-bg")
    consumer = (await client.get(f"/v1/credentials/{credential_id}")).json()["consumer_id"]
    walmart_control.remove_consumer(consumer)
    await vault_state.drift.stop()  # the lifespan started it with the settings' interval
    vault_state.drift.interval = 0.2
    vault_state.drift.start()
    for _ in range(50):
        if await status(client, credential_id) == "invalid":
            break
        await asyncio.sleep(0.1)
    assert await status(client, credential_id) == "invalid"


async def test_one_replica_at_a_time(
    settings: Settings, vault_state: AppState, client: httpx.AsyncClient
) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process; there is no other replica to exclude")
    async with vault_state.engine.connect() as other_replica:
        await other_replica.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        assert await vault_state.drift.run_once() == {"skipped_locked": 1}
        await other_replica.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
    assert await vault_state.drift.run_once() == {}


async def test_the_lock_is_held_outside_any_transaction(
    settings: Settings,
    vault_state: AppState,
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite takes no lock")
    await valid_credential(client, walmart_control, "acct-lock")
    walmart_control.add_fault(path_prefix="/v3/ca/feeds", mode="slow", delay_seconds=1.0)
    running = asyncio.ensure_future(vault_state.drift.run_once())
    holder = (
        "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :low "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    states: list[str] = []
    async with vault_state.engine.connect() as observer:
        for _ in range(40):  # while the pass waits on the slow test call
            found = await observer.execute(text(holder), {"low": LOCK_KEY & 0xFFFFFFFF})
            states = list(found.scalars())
            await observer.rollback()
            if states or running.done():
                break
            await asyncio.sleep(0.05)
    assert await running == {"valid": 1}
    # A pass can last hours: "idle in transaction" is what idle_in_transaction_session_timeout
    # ends, taking the lock with it.
    assert states == ["idle"]
