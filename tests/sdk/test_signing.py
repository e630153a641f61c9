"""Requests signed through the SDK reach the simulator with headers it accepts.

The simulator checks signatures against the URL bytes on its request line, so a URL the SDK
(or httpx) re-encoded between asking the vault and sending would fail here with a 401.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sdk.conftest import MakeAuth, send, walmart_calls
from tests.walmart_sim import SimulatorControl, SimulatorServer

ENCODED_QUERY = "createdStartDate=2015-01-03T05%3A00%3A00Z&limit=5"


def test_signature_get_sync(
    walmart: SimulatorServer, signature_credential: dict[str, Any], make_auth: MakeAuth
) -> None:
    auth = make_auth(credential_id=signature_credential["id"])
    with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
        response = client.get("/v3/ca/feeds?limit=5")
    assert response.status_code == 200, response.text
    assert response.json()["limit"] == 5


def test_percent_encoded_url_is_signed_as_sent(
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    signature_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    auth = make_auth(credential_id=signature_credential["id"])
    url = f"{walmart.base_url}/v3/ca/feeds?{ENCODED_QUERY}"
    with httpx.Client(auth=auth) as client:
        response = client.get(url)
    assert response.status_code == 200, response.text
    assert [r["raw_url"] for r in walmart_calls(walmart_control, "/v3/ca/feeds")] == [url]


async def test_signature_get_async_with_params(
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    signature_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    auth = make_auth(credential_id=signature_credential["id"])
    params: dict[str, str | int] = {
        "createdStartDate": "2015-01-03T05:00:00Z",
        "sku": "a b+c/é",
        "limit": 5,
    }
    async with httpx.AsyncClient(base_url=walmart.base_url, auth=auth) as client:
        response = await client.get("/v3/ca/feeds", params=params)
        encoded = await client.get(f"/v3/ca/feeds?{ENCODED_QUERY}")
    assert (response.status_code, encoded.status_code) == (200, 200), response.text
    sent = [r["raw_url"] for r in walmart_calls(walmart_control, "/v3/ca/feeds")]
    assert sent == [str(response.request.url), f"{walmart.base_url}/v3/ca/feeds?{ENCODED_QUERY}"]


def test_oauth_get_sync(
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    auth = make_auth(credential_id=oauth_credential["id"])
    with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
        responses = [client.get("/v3/orders", params={"limit": 10}) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert walmart_control.stats()["token_calls"] == {oauth_credential["client_id"]: 1}


async def test_oauth_get_async(
    walmart: SimulatorServer, oauth_credential: dict[str, Any], make_auth: MakeAuth
) -> None:
    auth = make_auth(credential_id=oauth_credential["id"])
    async with httpx.AsyncClient(base_url=walmart.base_url, auth=auth) as client:
        response = await client.get("/v3/orders")
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "path": "/v3/orders"}


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize("kind", ["signature", "oauth"])
async def test_account_form(
    kind: str,
    flavor: str,
    walmart: SimulatorServer,
    signature_credential: dict[str, Any],
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    credential = signature_credential if kind == "signature" else oauth_credential
    path = "/v3/ca/feeds?limit=5" if kind == "signature" else "/v3/orders"
    auth = make_auth(
        account_id=credential["account_id"],
        market=credential["market"],
        environment=credential["environment"],
    )
    response = await send(flavor, auth, walmart.base_url, "GET", path)
    assert response.status_code == 200, response.text


def test_post_with_json_body(
    walmart: SimulatorServer, signature_credential: dict[str, Any], make_auth: MakeAuth
) -> None:
    auth = make_auth(credential_id=signature_credential["id"])
    with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
        response = client.post("/v3/ca/feeds?feedType=item", json={"items": [{"sku": "A-1"}]})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["method"], answer["body_bytes"]) == ("POST", len(response.request.content))


def test_reuses_given_vault_client(
    walmart: SimulatorServer, oauth_credential: dict[str, Any], make_auth: MakeAuth
) -> None:
    seen: list[str] = []
    hooks = {"request": [lambda request: seen.append(request.url.path)]}
    with httpx.Client(event_hooks=hooks) as vault_client:
        auth = make_auth(credential_id=oauth_credential["id"], vault_client=vault_client)
        with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
            assert client.get("/v3/orders").status_code == 200
        auth.close()  # not its client to close: the vault client stays usable
        assert not vault_client.is_closed
    assert seen == [f"/v1/credentials/{oauth_credential['id']}/headers"]


def test_url_the_vault_normalised_is_the_one_sent(
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    signature_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    auth = make_auth(credential_id=signature_credential["id"])
    with httpx.Client(auth=auth) as client:
        response = client.get(f"{walmart.base_url}/v3/ca/feeds?createdStartDate=05%3a00&sku=%7e")
    assert response.status_code == 200, response.text
    sent = [r["raw_url"] for r in walmart_calls(walmart_control, "/v3/ca/feeds")]
    assert sent == [f"{walmart.base_url}/v3/ca/feeds?createdStartDate=05%3A00&sku=~"]
