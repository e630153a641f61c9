"""Fault injection over real HTTP: status, 429 Retry-After, slow, garbage, body, reset, stacking."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.walmart_sim import SimulatorControl
from tests.walmart_sim.control import SimulatorControlError
from tests.walmart_sim.testkit import CLIENT_ID, error_code, request_token

pytestmark = pytest.mark.slow


async def test_status_fault_applies_times_then_expires(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    control.add_fault("/v3/token", "status", status=500, times=2)
    first, second, third = [await request_token(client) for _ in range(3)]
    assert first.status_code == second.status_code == 500
    assert error_code(first) == "INTERNAL_SERVER_ERROR.GMP_GATEWAY_API"
    assert third.status_code == 200
    stats = control.stats()
    assert stats["faults_applied"] == 2
    assert stats["active_faults"] == []
    # A faulted call never reached Walmart's token logic, so it is not a token call.
    assert stats["token_calls"] == {CLIENT_ID: 1}
    assert stats["token_failures"] == {}
    assert [r["fault"] for r in stats["requests"]] == ["status", "status", None]


async def test_429_carries_retry_after(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    control.add_fault("/v3/token", "status", status=429, retry_after=7)
    response = await request_token(client)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert error_code(response) == "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API"


async def test_status_fault_with_custom_code(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_fault("/v3/items", "status", status=400, code="INVALID_TOKEN")
    response = await client.get("/v3/items")
    assert response.status_code == 400
    assert error_code(response) == "INVALID_TOKEN.GMP_GATEWAY_API"


async def test_slow_fault_delays_without_blocking_others(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    control.add_fault("/v3/token", "slow", delay_seconds=0.6, times=1)
    started = time.monotonic()
    slow = asyncio.create_task(request_token(client))
    await asyncio.sleep(0.1)  # let the slow request reach the server first
    fast = await client.get("/v3/items")  # unfaulted path, answered meanwhile
    fast_done = time.monotonic() - started
    response = await slow
    assert fast.status_code == 400  # answered (missing headers) while the other waits
    assert fast_done < 0.5
    assert time.monotonic() - started >= 0.6
    assert response.status_code == 200  # after the delay it proceeds normally
    assert control.stats()["token_calls"] == {CLIENT_ID: 1}


async def test_garbage_fault_is_unreadable_json(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_fault("/v3/token/detail", "garbage")
    response = await client.get("/v3/token/detail")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_body_fault_answers_the_text_as_given(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    hostile = '{"access_token": "t", "expires_in": Infinity}'
    control.add_fault("/v3/token", "body", body=hostile)
    response = await client.post("/v3/token")
    assert (response.status_code, response.text) == (200, hostile)
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(SimulatorControlError, match="'body' is given with mode 'body'"):
        control.add_fault("/v3/token", "body")  # a body fault needs its body


async def test_reset_fault_gives_no_http_response(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    control.add_fault("/v3/token", "reset", times=1)
    with pytest.raises(httpx.TransportError):
        await request_token(client)
    assert (await request_token(client)).status_code == 200  # fault expired, server fine
    records = control.stats()["requests"]
    assert (records[0]["fault"], records[0]["status"]) == ("reset", None)


async def test_first_matching_fault_wins_and_clear(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    control.add_fault("/v3/token", "status", status=503)
    control.add_fault("/v3/", "status", status=500)
    assert (await request_token(client)).status_code == 503
    assert (await client.get("/v3/items")).status_code == 500
    assert control.clear_faults() == {"cleared": 2}
    assert (await request_token(client)).status_code == 200


async def test_faults_never_touch_the_control_plane(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_fault("/", "reset")
    assert control.health() == {"status": "ok"}
    assert len(control.stats()["active_faults"]) == 1
    with pytest.raises(httpx.TransportError):
        await client.get("/v3/items")
