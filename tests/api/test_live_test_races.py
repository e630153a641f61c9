"""A change that lands while a live test waits for Walmart: never a 500.

Walmart is made slow on purpose, so the change always lands during the test. An edit or a
disable is kept and the result applied around it; a rotation makes the result about a version
that is no longer current (409 naming both); a deletion, 404. The pool is sized so that a test
holding a connection while it waits would starve the edit: it must not hold one.
"""

from __future__ import annotations

import asyncio

import httpx

from app.state import AppState
from tests.api.walmart_setup import signature_credential
from tests.factories import new_rsa_key, signature_auth
from tests.walmart_sim import SimulatorControl

SLOW = 1.0


async def _during_a_slow_test(
    client: httpx.AsyncClient, control: SimulatorControl, credential_id: str, change: object
) -> tuple[httpx.Response, httpx.Response]:
    control.add_fault(path_prefix="/v3/ca/feeds", mode="slow", delay_seconds=SLOW, times=1)
    testing = asyncio.create_task(client.post(f"/v1/credentials/{credential_id}/test"))
    await asyncio.sleep(SLOW / 3)  # the test is waiting for Walmart now
    assert callable(change)
    changed: httpx.Response = await change()
    return await testing, changed


async def test_an_edit_during_a_test_is_kept_and_the_result_applied(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    path = f"/v1/credentials/{credential['id']}"

    async def edit() -> httpx.Response:
        return await client.patch(path, json={"label": "renamed during the test"})

    tested, edited = await _during_a_slow_test(client, walmart_control, credential["id"], edit)
    assert edited.status_code == 200, edited.text
    assert tested.status_code == 200, tested.text
    after = (await client.get(path)).json()
    assert after["label"] == "renamed during the test"
    assert after["last_test"]["correlation_id"] == tested.json()["correlation_id"]
    assert after["status"] == "valid"


async def test_a_disable_during_a_test_is_not_lifted_by_its_verdict(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    path = f"/v1/credentials/{credential['id']}"

    async def disable() -> httpx.Response:
        return await client.patch(path, json={"disabled": True})

    tested, disabled = await _during_a_slow_test(client, walmart_control, credential["id"], disable)
    assert (disabled.status_code, tested.status_code) == (200, 200)
    assert (await client.get(path)).json()["status"] == "disabled"


async def test_a_rotation_during_a_test_is_a_409_naming_both_versions(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    path = f"/v1/credentials/{credential['id']}"
    new_key = new_rsa_key(1024)

    async def rotate() -> httpx.Response:
        body = {"auth": signature_auth(credential["consumer_id"], new_key), "test": False}
        return await client.post(f"{path}/rotate", json=body)

    tested, rotated = await _during_a_slow_test(client, walmart_control, credential["id"], rotate)
    assert rotated.status_code == 200, rotated.text
    assert tested.status_code == 409, tested.text
    error = tested.json()["error"]
    assert error["code"] == "conflict"
    assert (error["details"]["tested_version"], error["details"]["current_version"]) == (1, 2)
    assert "version 2" in error["message"]


async def test_a_delete_during_a_test_is_a_404(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)

    async def delete() -> httpx.Response:
        return await client.delete(f"/v1/credentials/{credential['id']}")

    tested, deleted = await _during_a_slow_test(client, walmart_control, credential["id"], delete)
    assert deleted.status_code == 204
    assert tested.status_code == 404, tested.text
    assert "deleted while it was being tested" in tested.json()["error"]["message"]


async def test_a_test_waiting_for_walmart_holds_no_database_connection(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    pool = vault_state.engine.pool
    walmart_control.add_fault(path_prefix="/v3/ca/feeds", mode="slow", delay_seconds=SLOW, times=1)
    testing = asyncio.create_task(client.post(f"/v1/credentials/{credential['id']}/test"))
    await asyncio.sleep(SLOW / 2)
    checked_out = pool.checkedout()  # type: ignore[attr-defined]
    assert (await testing).status_code == 200
    assert checked_out == 0
