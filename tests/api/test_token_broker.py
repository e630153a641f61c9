"""The broker under Walmart faults, and the audit of what it and the hot path did."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from tests.api.helpers import assert_error
from tests.api.walmart_setup import headers_for, oauth_credential, signature_credential
from tests.factories import oauth_body
from tests.walmart_sim import SimulatorControl, SimulatorServer


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"mode": "status", "status": 500}, 502, "walmart_unavailable"),
        ({"mode": "status", "status": 429, "retry_after": 9}, 503, "walmart_rate_limited"),
        ({"mode": "status", "status": 403}, 502, "walmart_forbidden"),
        ({"mode": "garbage"}, 502, "walmart_unavailable"),
        ({"mode": "reset"}, 502, "walmart_unreachable"),
        ({"mode": "slow", "delay_seconds": 5}, 504, "walmart_timeout"),
    ],
)
async def test_token_failures_without_a_token_fail_clearly_and_fast(
    client: httpx.AsyncClient,
    settings: Settings,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    fault: dict[str, object],
    status: int,
    code: str,
) -> None:
    credential = await oauth_credential(client, walmart_control)
    walmart_control.add_fault(path_prefix="/v3/token", **fault)  # type: ignore[arg-type]
    started = time.perf_counter()
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": walmart.base_url + "/v3/orders"},
    )
    assert time.perf_counter() - started < settings.walmart_timeout_seconds + 0.5
    error = assert_error(response, status, code)
    assert error["details"]["outcome"]
    if code == "walmart_rate_limited":
        assert response.headers["retry-after"] == "9"


async def test_rejected_secret_is_502(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    body = oauth_body()
    walmart_control.add_oauth_client(body["auth"]["client_id"], "another-secret")
    credential = (await client.post("/v1/credentials", json=body)).json()
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": walmart.base_url + "/v3/orders"},
    )
    error = assert_error(response, 502, "walmart_rejected_credentials")
    assert error["details"]["walmart_status"] == 401


async def test_valid_token_is_served_while_its_refresh_fails(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    # A 12 s token is refreshed with under 6 s left (half its lifetime, the margin being
    # longer), and still served, while the refresh fails, until under 5 s are left.
    walmart_control.settings(token_lifetime_seconds=12)
    credential = await oauth_credential(client, walmart_control)
    url = walmart.base_url + "/v3/orders"
    first = await headers_for(client, credential["id"], "GET", url)
    await asyncio.sleep(6.2)
    walmart_control.add_fault(path_prefix="/v3/token", mode="status", status=500)
    served = await asyncio.gather(
        *(headers_for(client, credential["id"], "GET", url) for _ in range(5))
    )
    assert {s["headers"]["WM_SEC.ACCESS_TOKEN"] for s in served} == {
        first["headers"]["WM_SEC.ACCESS_TOKEN"]
    }
    assert walmart_control.stats()["token_calls"] == {credential["client_id"]: 1}
    walmart_control.clear_faults()
    # The failed refresh started a 1 s backoff: the old token is served until it ends.
    during = await headers_for(client, credential["id"], "GET", url)
    assert during["headers"]["WM_SEC.ACCESS_TOKEN"] == first["headers"]["WM_SEC.ACCESS_TOKEN"]
    await asyncio.sleep(1.1)
    refreshed = await headers_for(client, credential["id"], "GET", url)
    assert refreshed["headers"]["WM_SEC.ACCESS_TOKEN"] != first["headers"]["WM_SEC.ACCESS_TOKEN"]


async def _actions(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT action FROM audit_events ORDER BY id"))
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


async def test_issued_headers_are_audited_within_a_second(
    client: httpx.AsyncClient,
    settings: Settings,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    signature = await signature_credential(client, walmart_control)
    oauth = await oauth_credential(client, walmart_control)
    for _ in range(3):
        await headers_for(client, signature["id"], "GET", walmart.base_url + "/v3/ca/feeds")
    await headers_for(client, oauth["id"], "GET", walmart.base_url + "/v3/orders")
    await client.post(f"/v1/credentials/{oauth['id']}/token/invalidate")
    await asyncio.sleep(settings.audit_flush_seconds + 0.3)
    actions = await _actions(settings.database_url)
    assert actions.count("headers.issued") == 4
    assert actions.count("token.fetched") == 1
    assert actions.count("token.invalidated") == 1


async def test_pending_audit_is_flushed_on_shutdown(
    settings: Settings, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    from app.main import create_app
    from tests.conftest import BOOTSTRAP_TOKEN, _empty_tables

    await _empty_tables(settings.database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://vault.test",
            headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
        ) as http:
            credential = await signature_credential(http, walmart_control)
            await headers_for(http, credential["id"], "GET", walmart.base_url + "/v3/ca/feeds")
            assert "headers.issued" not in await _actions(settings.database_url)
    assert (await _actions(settings.database_url)).count("headers.issued") == 1


async def test_failed_token_calls_back_off(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    walmart_control.add_fault(path_prefix="/v3/token", mode="status", status=500)
    path = f"/v1/credentials/{credential['id']}/headers"
    body = {"method": "GET", "url": walmart.base_url + "/v3/orders"}
    answers = [await client.post(path, json=body) for _ in range(10)]
    assert {a.status_code for a in answers} == {502}
    attempts = [r for r in walmart_control.stats()["requests"] if r["path"] == "/v3/token"]
    assert len(attempts) == 1, "one token call, then the backoff answers"
    walmart_control.clear_faults()
    await asyncio.sleep(1.1)
    assert (await client.post(path, json=body)).status_code == 200
