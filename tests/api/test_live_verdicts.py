"""What a live test concludes is what Walmart's answers say: the token detail's own verdict,
a 403 that is not a bad key, a token kept, a backoff announced truthfully, short token
lifetimes, and token types the gateway would not take."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.config import Settings
from app.state import AppState
from tests.api.helpers import assert_error
from tests.api.walmart_setup import oauth_credential
from tests.clocks import end_backoffs
from tests.factories import CHANNEL_TYPE, oauth_body
from tests.walmart_sim import SimulatorControl, SimulatorServer


async def _test(client: httpx.AsyncClient, credential_id: str) -> dict[str, Any]:
    response = await client.post(f"/v1/credentials/{credential_id}/test")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _status(client: httpx.AsyncClient, credential_id: str) -> str:
    status: str = (await client.get(f"/v1/credentials/{credential_id}")).json()["status"]
    return status


async def _headers(client: httpx.AsyncClient, walmart: SimulatorServer, cid: str) -> httpx.Response:
    body = {"method": "GET", "url": walmart.base_url + "/v3/orders"}
    return await client.post(f"/v1/credentials/{cid}/headers", json=body)


async def test_token_detail_is_asked_with_basic(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    assert (await _test(client, credential["id"]))["outcome"] == "valid"
    detail = [r for r in walmart_control.stats()["requests"] if r["path"] == "/v3/token/detail"]
    assert [(r["authorization_scheme"], r["status"]) for r in detail] == [("Basic", 200)]


async def test_token_detail_verdicts(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    body = oauth_body()
    auth = body["auth"]
    walmart_control.add_oauth_client(auth["client_id"], auth["client_secret"], token_valid=False)
    created = (await client.post("/v1/credentials", json=body)).json()
    result = await _test(client, created["id"])
    assert (result["ok"], result["outcome"]) == (False, "invalid_credentials")
    assert result["details"]["is_valid"] is False
    assert "is_valid" in result["message"]
    assert await _status(client, created["id"]) == "invalid"

    walmart_control.add_oauth_client(
        auth["client_id"], auth["client_secret"], channel_type="another-channel"
    )
    await client.patch(f"/v1/credentials/{created['id']}", json={"channel_type": CHANNEL_TYPE})
    result = await _test(client, created["id"])
    assert (result["ok"], result["outcome"]) == (False, "channel_mismatch")
    assert result["details"]["is_channel_match"] is False
    assert CHANNEL_TYPE in result["message"]
    assert await _status(client, created["id"]) == "invalid"


async def test_forbidden_is_not_a_bad_key(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    assert (await _test(client, credential["id"]))["outcome"] == "valid"
    walmart_control.add_fault(
        path_prefix="/v3/token/detail", status=403, code="FORBIDDEN.GMP_GATEWAY_API"
    )
    result = await _test(client, credential["id"])
    assert (result["outcome"], result["walmart_status"]) == ("forbidden", 403)
    assert await _status(client, credential["id"]) == "valid"


async def test_registration_test_token_is_kept(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    body = oauth_body()
    walmart_control.add_oauth_client(body["auth"]["client_id"], body["auth"]["client_secret"])
    created = await client.post("/v1/credentials?test=true", json=body)
    assert created.status_code == 201, created.text
    assert (await _headers(client, walmart, created.json()["id"])).status_code == 200
    assert walmart_control.stats()["token_calls"] == {body["auth"]["client_id"]: 1}


async def test_retry_after_during_backoff_is_when_the_vault_tries_again(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    credential = await oauth_credential(client, walmart_control)
    walmart_control.add_fault(path_prefix="/v3/token", status=429, retry_after=1)
    first = await _headers(client, walmart, credential["id"])
    assert_error(first, 503, "walmart_rate_limited")
    assert first.headers["Retry-After"] == "1"
    end_backoffs(vault_state.issuer.broker, 1.05)
    # Walmart says 1 s again, but the backoff has doubled to 2 s: that is what callers hear.
    second = await _headers(client, walmart, credential["id"])
    third = await _headers(client, walmart, credential["id"])
    assert [second.headers["Retry-After"], third.headers["Retry-After"]] == ["2", "2"]
    assert third.json()["error"]["details"]["retry_after"] == 2
    assert walmart_control.stats()["token_calls"] == {}
    assert len(walmart_control.stats()["token_failures"]) <= 1


async def test_refresh_margin_adapts_to_short_lifetimes(
    client: httpx.AsyncClient,
    settings: Settings,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    assert settings.token_refresh_margin_seconds == 120
    walmart_control.settings(token_lifetime_seconds=60)
    credential = await oauth_credential(client, walmart_control)
    for _ in range(3):
        assert (await _headers(client, walmart, credential["id"])).status_code == 200
    assert walmart_control.stats()["token_calls"] == {credential["client_id"]: 1}


@pytest.mark.parametrize("token_type", ["mac", "Basic"])
async def test_unexpected_token_type_is_reported(
    client: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    token_type: str,
) -> None:
    walmart_control.settings(token_type=token_type)
    credential = await oauth_credential(client, walmart_control)
    result = await _test(client, credential["id"])
    assert (result["outcome"], result["details"]) == (
        "walmart_unavailable",
        {"token_type": token_type},
    )
    assert f"'{token_type}'" in result["message"]
    error = assert_error(
        await _headers(client, walmart, credential["id"]), 502, "walmart_unavailable"
    )
    assert error["details"]["token_type"] == token_type
