"""The broker under Walmart faults, and the audit of what it and the hot path did."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.state import AppState
from tests.api.helpers import assert_error
from tests.api.walmart_setup import headers_for, oauth_credential, signature_credential
from tests.clocks import age_tokens
from tests.factories import oauth_body
from tests.walmart_sim import SimulatorControl, SimulatorServer

# Far past the vault's Walmart timeout (3 s in the test settings).
HUNG_WALMART_SECONDS = 10


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"mode": "status", "status": 500}, 502, "walmart_unavailable"),
        ({"mode": "status", "status": 429, "retry_after": 9}, 503, "walmart_rate_limited"),
        ({"mode": "status", "status": 403}, 502, "walmart_forbidden"),
        ({"mode": "garbage"}, 502, "walmart_unavailable"),
        ({"mode": "reset"}, 502, "walmart_unreachable"),
        ({"mode": "slow", "delay_seconds": HUNG_WALMART_SECONDS}, 504, "walmart_timeout"),
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
    elapsed = time.perf_counter() - started
    # Bounds that only a vault waiting on Walmart or retrying could cross, not a loaded
    # machine: an immediate fault is answered within the timeout, after one call; a hung
    # Walmart before a second timeout would end (a hung call is recorded only once it ends).
    timeout = settings.walmart_timeout_seconds
    if fault["mode"] == "slow":
        assert elapsed < timeout * 1.8
    else:
        assert elapsed < timeout
        assert token_attempts(walmart_control) == 1
    error = assert_error(response, status, code)
    assert error["details"]["outcome"]
    if code == "walmart_rate_limited":
        assert response.headers["retry-after"] == "9"


def token_answer(expires_in: str, access: str = "t") -> str:
    """A token answer as Walmart's text, so values JSON cannot carry but Python's parser reads
    (Infinity, NaN, a lone surrogate) can be sent."""
    return f'{{"access_token": "{access}", "token_type": "Bearer", "expires_in": {expires_in}}}'


@pytest.mark.parametrize(
    "answer",
    [
        token_answer("Infinity"),
        token_answer("NaN"),
        token_answer("0"),
        token_answer("-900"),
        token_answer("true"),
        token_answer('"900"'),
        token_answer("0.5"),
        token_answer("900", access="t" * 9000),
        token_answer("900", access="\\ud800"),
        token_answer("900", access="caf\u00e9"),
    ],
    ids=[
        "infinite",
        "nan",
        "zero",
        "negative",
        "boolean",
        "text",
        "under_a_second",
        "oversized_token",
        "lone_surrogate",
        "not_ascii",
    ],
)
async def test_a_token_answer_with_impossible_values_is_refused(
    client: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    answer: str,
) -> None:
    credential = await oauth_credential(client, walmart_control)
    walmart_control.add_fault(path_prefix="/v3/token", mode="body", body=answer, times=1)
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": walmart.base_url + "/v3/orders"},
    )
    error = assert_error(response, 502, "walmart_unavailable")
    assert "could not be read" in error["message"]


@pytest.mark.parametrize("claimed", ["1e300", "1" + "0" * 400], ids=["float", "400_digits"])
async def test_a_token_claiming_a_longer_life_than_walmart_gives_is_kept_900_s_at_most(
    client: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    claimed: str,
) -> None:
    credential = await oauth_credential(client, walmart_control)
    walmart_control.add_fault(
        path_prefix="/v3/token", mode="body", body=token_answer(claimed), times=1
    )
    asked_at = datetime.now(UTC)
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": walmart.base_url + "/v3/orders"},
    )
    assert response.status_code == 200, response.text
    expires_at = datetime.fromisoformat(response.json()["expires_at"])
    assert expires_at <= datetime.now(UTC) + timedelta(seconds=900)
    assert expires_at > asked_at + timedelta(seconds=800)


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


def backoff_allows(seconds: float) -> int:
    """Token calls that a backoff of 1 s, doubling after each failure, lets through in
    ``seconds``: the n-th comes 2^(n-1) - 1 s after the first at the earliest. A bound from the
    time the calls really took, so a loaded machine cannot make the count wrong."""
    return 1 + int(math.log2(seconds + 1))


def token_attempts(control: SimulatorControl) -> int:
    return len([r for r in control.stats()["requests"] if r["path"] == "/v3/token"])


async def new_token_served(
    client: httpx.AsyncClient, credential_id: str, url: str, old: str
) -> dict[str, Any]:
    """Once the backoff ends the next call refreshes: wait for that, not for the clock."""
    for _ in range(100):
        issued = await headers_for(client, credential_id, "GET", url)
        if issued["headers"]["WM_SEC.ACCESS_TOKEN"] != old:
            return issued
        await asyncio.sleep(0.1)
    raise AssertionError("the old token was still served 10 s after Walmart recovered")


async def test_valid_token_is_served_while_its_refresh_fails(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    # A 20 s token is refreshed with under 10 s left (half its lifetime, the margin being
    # longer), and still served, while the refresh fails, until under 5 s are left: 5 s of
    # room for a loaded machine.
    walmart_control.settings(token_lifetime_seconds=20)
    credential = await oauth_credential(client, walmart_control)
    url = walmart.base_url + "/v3/orders"
    first = (await headers_for(client, credential["id"], "GET", url))["headers"]
    age_tokens(vault_state.issuer.broker, 10.2)
    walmart_control.add_fault(path_prefix="/v3/token", mode="status", status=500)
    before = token_attempts(walmart_control)
    started = time.monotonic()
    served = await asyncio.gather(
        *(headers_for(client, credential["id"], "GET", url) for _ in range(5))
    )
    # And again, during the backoff the failed refresh started (or after it, on a slow day).
    served.append(await headers_for(client, credential["id"], "GET", url))
    elapsed = time.monotonic() - started
    assert {s["headers"]["WM_SEC.ACCESS_TOKEN"] for s in served} == {first["WM_SEC.ACCESS_TOKEN"]}
    assert walmart_control.stats()["token_calls"] == {credential["client_id"]: 1}
    assert 1 <= token_attempts(walmart_control) - before <= backoff_allows(elapsed)
    walmart_control.clear_faults()
    await new_token_served(client, credential["id"], url, first["WM_SEC.ACCESS_TOKEN"])


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
    started = time.monotonic()
    answers = [await client.post(path, json=body) for _ in range(10)]
    elapsed = time.monotonic() - started
    assert {a.status_code for a in answers} == {502}
    # One token call, then the backoff answers (a second one only if the ten took over 1 s).
    assert 1 <= token_attempts(walmart_control) <= backoff_allows(elapsed)
    walmart_control.clear_faults()
    for _ in range(100):  # the backoff ends, then the next call gets a token
        if (await client.post(path, json=body)).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("still refused 10 s after Walmart recovered")
