"""Issued headers are the exact sets of the contract, and Walmart (the simulator) accepts them."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from app.config import Settings
from app.state import AppState
from tests.api.helpers import assert_error, bearer, new_client_token
from tests.api.walmart_setup import headers_for, oauth_credential, signature_credential
from tests.clocks import age_tokens
from tests.factories import CHANNEL_TYPE
from tests.walmart_sim import SimulatorControl, SimulatorServer

SIGNATURE_HEADERS = {
    "WM_SEC.AUTH_SIGNATURE",
    "WM_SEC.TIMESTAMP",
    "WM_CONSUMER.ID",
    "WM_CONSUMER.CHANNEL.TYPE",
    "WM_SVC.NAME",
    "WM_QOS.CORRELATION_ID",
    "Accept",
}


@pytest.mark.parametrize(
    "path",
    [
        "/v3/ca/feeds?limit=10",
        "/v3/ca/orders?createdStartDate=2015-01-03T05%3A00%3A00Z&limit=5&status=Created",
        "/v3/ca/items/caf%C3%A9%2Fx?sku=a%20b&nextCursor=abc%3D%3D",
    ],
)
async def test_signature_headers_are_accepted_by_walmart(
    client: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    path: str,
) -> None:
    credential = await signature_credential(client, walmart_control)
    url = walmart.base_url + path
    issued = await headers_for(client, credential["id"], "get", url)
    assert set(issued["headers"]) == SIGNATURE_HEADERS
    assert issued["kind"] == "signature"
    assert issued["version"] == 1
    assert issued["headers"]["WM_CONSUMER.CHANNEL.TYPE"] == CHANNEL_TYPE
    assert issued["headers"]["WM_SVC.NAME"] == "Walmart Marketplace"
    async with httpx.AsyncClient() as http:
        accepted = await http.get(url, headers=issued["headers"])
        assert accepted.status_code == 200, accepted.text
        tampered = await http.get(url + "&extra=1", headers=issued["headers"])
        assert tampered.status_code == 401
        other_method = await http.post(url, headers=issued["headers"])
        assert other_method.status_code == 401


async def test_signature_for_post_and_fresh_correlation_ids(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    url = walmart.base_url + "/v3/ca/feeds?feedType=item"
    first = await headers_for(client, credential["id"], "Post", url)
    second = await headers_for(client, credential["id"], "POST", url)
    assert first["headers"]["WM_QOS.CORRELATION_ID"] != second["headers"]["WM_QOS.CORRELATION_ID"]
    async with httpx.AsyncClient() as http:
        response = await http.post(url, headers=first["headers"], content=b"{}")
        assert response.status_code == 200, response.text


async def test_oauth_headers_carry_one_shared_token(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    url = walmart.base_url + "/v3/orders?limit=10"
    issued = await asyncio.gather(
        *(headers_for(client, credential["id"], "GET", url) for _ in range(25))
    )
    tokens = {i["headers"]["WM_SEC.ACCESS_TOKEN"] for i in issued}
    assert len(tokens) == 1
    stats = walmart_control.stats()
    assert stats["token_calls"] == {credential["client_id"]: 1}
    headers = issued[0]["headers"]
    assert set(headers) == {"WM_SEC.ACCESS_TOKEN", "WM_SVC.NAME", "WM_QOS.CORRELATION_ID", "Accept"}
    assert "Authorization" not in headers
    assert issued[0]["kind"] == "oauth"
    async with httpx.AsyncClient() as http:
        response = await http.get(url, headers=headers)
        assert response.status_code == 200, response.text


async def test_headers_by_account(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control, account_id="acme-001")
    body = {"market": "US", "environment": "production", "method": "GET"}
    ok = await client.post(
        "/v1/accounts/acme-001/headers", json=body | {"url": walmart.base_url + "/v3/items"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["credential_id"] == credential["id"]
    missing = await client.post(
        "/v1/accounts/acme-001/headers",
        json=body | {"environment": "sandbox", "url": walmart.base_url + "/v3/items"},
    )
    assert_error(missing, 404, "not_found")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("/v3/ca/feeds", "absolute"),
        ("https://marketplace.walmartapis.com/v3/ca/feeds", "absolute"),
        ("{base}/v3/ca/feeds ?x=1", "whitespace"),
        ("{base}/v3/ca/feeds\r\nX-Injected: 1", "whitespace"),
        ("{base}/v3/ca/feeds?q=caf\u00e9", "ASCII"),
        ("{base}/v3/ca/feeds#frag", "fragment"),
        ("{sandbox}/v3/ca/feeds", "absolute"),
        ("{base}/" + "a" * 4100, "4096"),
        ("", "at least 1"),
    ],
)
async def test_bad_urls_refused(
    client: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    url: str,
    problem: str,
) -> None:
    credential = await signature_credential(client, walmart_control)
    target = url.format(
        base=walmart.base_url, sandbox=walmart.base_url.replace("127.0.0.1", "localhost")
    )
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers", json={"method": "GET", "url": target}
    )
    assert response.status_code == 422, response.text
    assert problem.lower() in response.json()["error"]["message"].lower()


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "GET\r\n", ""])
async def test_bad_methods_refused(
    client: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    method: str,
) -> None:
    credential = await signature_credential(client, walmart_control)
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": method, "url": walmart.base_url + "/v3/ca/feeds"},
    )
    error = assert_error(response, 422, "validation_error")
    assert "GET, POST, PUT, PATCH, DELETE" in error["message"]


async def test_disabled_deleted_and_unknown_credentials(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    url = f"/v1/credentials/{credential['id']}"
    body = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
    assert (await client.post(f"{url}/headers", json=body)).status_code == 200
    await client.patch(url, json={"disabled": True})
    assert_error(await client.post(f"{url}/headers", json=body), 409, "credential_disabled")
    await client.patch(url, json={"disabled": False})
    assert (await client.post(f"{url}/headers", json=body)).status_code == 200
    await client.delete(url)
    assert_error(await client.post(f"{url}/headers", json=body), 404, "not_found")
    assert_error(
        await client.post(f"/v1/credentials/{uuid.uuid4()}/headers", json=body), 404, "not_found"
    )


async def test_headers_scope_and_account_are_enforced(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control, account_id="acme-ca")
    body = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
    path = f"/v1/credentials/{credential['id']}/headers"
    reader = await new_client_token(client, "credentials:read")
    assert_error(await client.post(path, json=body, headers=bearer(reader)), 403, "forbidden")
    elsewhere = await new_client_token(client, "headers:issue", account_ids=["other"])
    assert_error(await client.post(path, json=body, headers=bearer(elsewhere)), 403, "forbidden")
    assert_error(
        await client.post(
            "/v1/accounts/acme-ca/headers",
            json=body | {"market": "CA", "environment": "production"},
            headers=bearer(elsewhere),
        ),
        403,
        "forbidden",
    )
    allowed = await new_client_token(client, "headers:issue", account_ids=["acme-ca"])
    assert (await client.post(path, json=body, headers=bearer(allowed))).status_code == 200


async def test_invalidate_drops_the_token(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    url = walmart.base_url + "/v3/orders"
    first = await headers_for(client, credential["id"], "GET", url)
    walmart_control.expire_tokens()  # Walmart now answers 401 to that token
    async with httpx.AsyncClient() as http:
        assert (await http.get(url, headers=first["headers"])).status_code == 401
    invalidated = await client.post(f"/v1/credentials/{credential['id']}/token/invalidate")
    assert invalidated.status_code == 204
    second = await headers_for(client, credential["id"], "GET", url)
    assert second["headers"]["WM_SEC.ACCESS_TOKEN"] != first["headers"]["WM_SEC.ACCESS_TOKEN"]
    assert walmart_control.stats()["token_calls"] == {credential["client_id"]: 2}
    async with httpx.AsyncClient() as http:
        assert (await http.get(url, headers=second["headers"])).status_code == 200
    signature = await signature_credential(client, walmart_control)
    refused = await client.post(f"/v1/credentials/{signature['id']}/token/invalidate")
    assert_error(refused, 422, "invalid_request")


async def test_token_refreshed_before_its_end(
    settings: Settings,
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    # The margin is 120 s, longer than this 3-second token: it is refreshed at half its life.
    walmart_control.settings(token_lifetime_seconds=3)
    credential = await oauth_credential(client, walmart_control)
    url = walmart.base_url + "/v3/orders"
    first = await headers_for(client, credential["id"], "GET", url)
    again = await headers_for(client, credential["id"], "GET", url)
    assert again["headers"]["WM_SEC.ACCESS_TOKEN"] == first["headers"]["WM_SEC.ACCESS_TOKEN"]
    age_tokens(vault_state.issuer.broker, 1.7)
    later = await headers_for(client, credential["id"], "GET", url)
    assert later["headers"]["WM_SEC.ACCESS_TOKEN"] != first["headers"]["WM_SEC.ACCESS_TOKEN"]
    assert walmart_control.stats()["token_calls"] == {credential["client_id"]: 2}
