"""One API client's stalled proxied uploads cannot block Walmart calls for anyone else: the
proxy has its own connection pool, each client only so many proxied calls open at once, and a
body that stops arriving ends its call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from tests.api.helpers import assert_error, bearer, new_client_token
from tests.api.walmart_setup import oauth_credential
from tests.walmart_sim import SimulatorControl

# More stalled uploads than the shared outbound client had connections (100) before the
# proxy got a pool of its own.
STALLED = 110


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    overrides = getattr(request, "param", {})
    return settings.model_copy(update={"proxy_body_idle_seconds": 60, **overrides})


def _token_calls(control: SimulatorControl) -> int:
    return sum(1 for r in control.stats()["requests"] if r["path"] == "/v3/token")


async def _victims_headers_still_come(
    client: httpx.AsyncClient, control: SimulatorControl, victim: dict[str, str], url: str
) -> None:
    """The victim's cached token is dropped, so its headers need a token fetch now."""
    invalidated = await client.post(f"/v1/credentials/{victim['id']}/token/invalidate")
    assert invalidated.status_code < 300, invalidated.text
    before = _token_calls(control)
    response = await asyncio.wait_for(
        client.post(f"/v1/credentials/{victim['id']}/headers", json={"method": "GET", "url": url}),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert _token_calls(control) == before + 1


async def _stalled_uploads(
    client: httpx.AsyncClient, token: str, hold: asyncio.Event
) -> list[asyncio.Task[httpx.Response]]:
    async def trickle() -> AsyncIterator[bytes]:
        yield b"{"
        await hold.wait()
        yield b"}"

    async def one() -> httpx.Response:
        return await client.post(
            "/v1/proxy/attacker/US/production/v3/feeds",
            content=trickle(),
            headers={**bearer(token), "Content-Type": "application/json"},
        )

    tasks = [asyncio.create_task(one()) for _ in range(STALLED)]
    await asyncio.sleep(2)  # every upload has started (or been refused)
    return tasks


async def test_a_clients_stalled_uploads_are_capped_and_others_still_get_tokens(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    await oauth_credential(client, walmart_control, account_id="attacker")
    victim = await oauth_credential(client, walmart_control, account_id="victim")
    attacker = await new_client_token(client, "walmart:call", account_ids=["attacker"])
    hold = asyncio.Event()
    tasks = await _stalled_uploads(client, attacker, hold)
    try:
        refused = [t.result() for t in tasks if t.done()]
        assert len(refused) == STALLED - settings.proxy_calls_per_client
        for response in refused:
            assert_error(response, 429, "too_many_proxy_calls")
            assert response.headers["retry-after"] == "1"
        url = settings.walmart_base_url("production") + "/v3/orders"
        await _victims_headers_still_come(client, walmart_control, victim, url)
    finally:
        hold.set()
        finished = await asyncio.gather(*tasks)
    assert sum(r.status_code == 200 for r in finished) == settings.proxy_calls_per_client
    # Every slot was given back: the attacker can call again.
    again = await client.get("/v1/proxy/attacker/US/production/v3/orders", headers=bearer(attacker))
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("settings", [{"proxy_calls_per_client": 1000}], indirect=True)
async def test_the_proxy_has_a_pool_of_its_own(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    """Even with no cap per client, a full proxy pool leaves token fetches their own."""
    await oauth_credential(client, walmart_control, account_id="attacker")
    victim = await oauth_credential(client, walmart_control, account_id="victim")
    attacker = await new_client_token(client, "walmart:call", account_ids=["attacker"])
    hold = asyncio.Event()
    tasks = await _stalled_uploads(client, attacker, hold)
    try:
        url = settings.walmart_base_url("production") + "/v3/orders"
        await _victims_headers_still_come(client, walmart_control, victim, url)
    finally:
        hold.set()
        await asyncio.gather(*tasks)


@pytest.mark.parametrize(
    "settings", [{"proxy_body_idle_seconds": 0.5, "proxy_calls_per_client": 1}], indirect=True
)
async def test_a_body_that_stops_arriving_ends_its_call(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    await oauth_credential(client, walmart_control, account_id="attacker")
    attacker = await new_client_token(client, "walmart:call", account_ids=["attacker"])
    never = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"{"
        await never.wait()
        yield b"}"

    response = await asyncio.wait_for(
        client.post(
            "/v1/proxy/attacker/US/production/v3/feeds",
            content=stalls(),
            headers={**bearer(attacker), "Content-Type": "application/json"},
        ),
        timeout=10,
    )
    error = assert_error(response, 408, "proxy_body_timeout")
    assert error["details"] == {"idle_seconds": 0.5}
    # Its slot (the only one this client has) was given back.
    again = await client.post(
        "/v1/proxy/attacker/US/production/v3/feeds",
        content=b"{}",
        headers={**bearer(attacker), "Content-Type": "application/json"},
    )
    assert again.status_code == 200, again.text
