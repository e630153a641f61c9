"""The live test of an App Store connection holds no database connection while Walmart
answers its token detail call, like the tests of the other kinds."""

from __future__ import annotations

import asyncio

import httpx

from app.state import AppState
from tests.connections.flow import connect, register_app
from tests.walmart_sim import SimulatorControl

SLOW = 1.0


async def test_an_app_oauth_test_waiting_for_walmart_holds_no_database_connection(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    await register_app(client, walmart_control)
    credential = await connect(client)
    pool = vault_state.engine.pool
    walmart_control.add_fault(
        path_prefix="/v3/token/detail", mode="slow", delay_seconds=SLOW, times=1
    )
    testing = asyncio.create_task(client.post(f"/v1/credentials/{credential['id']}/test"))
    await asyncio.sleep(SLOW / 2)
    checked_out = pool.checkedout()  # type: ignore[attr-defined]
    tested = await testing
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is True
    assert checked_out == 0
