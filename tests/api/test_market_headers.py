"""Every market's issued header set is the one ``app.walmart.markets`` describes (the README's
table), and the simulator, which enforces Walmart's per-market rules, agrees."""

from __future__ import annotations

import httpx
import pytest

from app.walmart.markets import MARKETS, issued_header_names
from tests.api.helpers import assert_error
from tests.api.walmart_setup import headers_for, oauth_credential, signature_credential
from tests.factories import CHANNEL_TYPE, oauth_body, signature_body
from tests.walmart_sim import SimulatorControl, SimulatorServer

# What Walmart's pages say, written out independently of the table it checks.
WM_MARKET = {"US": None, "CA": "ca", "MX": "mx", "CL": "cl"}
CHANNEL_TYPE_REQUIRED = {"US": False, "CA": False, "MX": True, "CL": True}


@pytest.mark.parametrize("market", ["US", "CA", "MX", "CL"])
async def test_oauth_set_per_market(
    client: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    market: str,
) -> None:
    assert MARKETS[market].wm_market == WM_MARKET[market]
    assert MARKETS[market].channel_type_required is CHANNEL_TYPE_REQUIRED[market]
    credential = await oauth_credential(
        client, walmart_control, market=market, account_id=f"acme-{market.lower()}"
    )
    url = walmart.base_url + "/v3/orders"
    issued = await headers_for(client, credential["id"], "GET", url)
    has_channel = credential["channel_type"] is not None
    assert set(issued["headers"]) == issued_header_names(
        market, "oauth", has_channel_type=has_channel
    )
    assert issued["headers"].get("WM_MARKET") == WM_MARKET[market]
    assert ("WM_CONSUMER.CHANNEL.TYPE" in issued["headers"]) is CHANNEL_TYPE_REQUIRED[market]
    assert "Authorization" not in issued["headers"]
    assert issued["headers"]["Accept"] == "application/json"
    async with httpx.AsyncClient() as http:
        answer = await http.get(issued["url"], headers=issued["headers"])
    # MX and CL also want Basic on every call, which the vault never hands out: those calls
    # go through the proxy (tests/api/test_proxy.py), and without it Walmart says 401.
    assert answer.status_code == (401 if MARKETS[market].basic_on_every_call else 200)


async def test_ca_signature_set(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    issued = await headers_for(client, credential["id"], "GET", walmart.base_url + "/v3/ca/feeds")
    assert set(issued["headers"]) == issued_header_names("CA", "signature", has_channel_type=True)
    assert issued["headers"]["WM_CONSUMER.CHANNEL.TYPE"] == CHANNEL_TYPE


@pytest.mark.parametrize("market", ["MX", "CL"])
async def test_channel_type_is_required_in_mx_and_cl(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, market: str
) -> None:
    body = oauth_body(market=market)
    del body["auth"]["channel_type"]
    error = assert_error(await client.post("/v1/credentials", json=body), 422, "invalid_request")
    assert error["details"]["field"] == "auth.channel_type"
    assert "WM_CONSUMER.CHANNEL.TYPE" in error["message"]
    created = await oauth_credential(client, walmart_control, market=market)
    patched = await client.patch(f"/v1/credentials/{created['id']}", json={"channel_type": None})
    assert_error(patched, 422, "invalid_request")
    assert (await client.get("/v1/credentials")).json()["items"][0]["channel_type"] == CHANNEL_TYPE


async def test_accept_xml_is_issued_and_answered(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    url = walmart.base_url + "/v3/items"
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": url, "accept": "application/xml"},
    )
    assert response.status_code == 200, response.text
    headers = response.json()["headers"]
    assert headers["Accept"] == "application/xml"
    async with httpx.AsyncClient() as http:
        answer = await http.get(url, headers=headers)
    assert answer.headers["content-type"].startswith("application/xml")
    refused = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": url, "accept": "text/html"},
    )
    assert_error(refused, 422, "validation_error")


async def test_ca_signature_refused_for_the_sandbox(client: httpx.AsyncClient) -> None:
    body = signature_body(environment="sandbox")
    error = assert_error(
        await client.post("/v1/credentials", json=body), 422, "auth_kind_not_available"
    )
    assert error["details"] == {"market": "CA", "environment": "sandbox", "use_kind": "oauth"}
    assert "sandbox" in error["message"]
    assert (await client.get("/v1/credentials")).json()["items"] == []
