"""The proxy forwards one call to Walmart (the simulator) with the authentication added inside
the vault, relays Walmart's answer, retries once on a rejected token, and audits the call."""

from __future__ import annotations

import asyncio
import hashlib
import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.deps import get_state
from app.errors import NotFound
from app.proxy.service import ProxyCall
from tests.api.helpers import assert_error, bearer, new_client_token
from tests.api.walmart_setup import oauth_credential, signature_credential
from tests.walmart_sim import SimulatorControl, SimulatorServer


def _calls(control: SimulatorControl, path: str) -> list[dict[str, Any]]:
    return [r for r in control.stats()["requests"] if r["path"] == path]


async def _audited(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    for _ in range(100):  # events go through the audit batcher (about 1 s; more under load)
        events = (await client.get("/v1/audit", params={"action": "walmart.called"})).json()
        if events["items"]:
            items: list[dict[str, Any]] = events["items"]
            return items
        await asyncio.sleep(0.1)
    return []


async def test_us_call_gets_the_token_and_never_the_callers_token(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control, account_id="acme-001")
    response = await client.get("/v1/proxy/acme-001/US/production/v3/orders?limit=5&x=%3a")
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "path": "/v3/orders"}
    assert response.headers["content-type"] == "application/json"
    [call] = _calls(walmart_control, "/v3/orders")
    assert call["raw_url"].endswith("/v3/orders?limit=5&x=%3A")
    assert call["authorization_scheme"] is None  # the vault bearer token stays here
    assert {"WM_SEC.ACCESS_TOKEN", "WM_SVC.NAME", "WM_QOS.CORRELATION_ID"} <= set(call["headers"])
    [event] = await _audited(client)
    assert event["credential_id"] == credential["id"]
    assert event["details"] | {"correlation_id": None} == {
        "method": "GET",
        "path": "/v3/orders",
        "status": 200,
        "request_bytes": 0,
        "response_bytes": len(response.content),
        "correlation_id": None,
        "retried": False,
    }


@pytest.mark.parametrize("market", ["MX", "CL"])
async def test_mx_and_cl_calls_carry_basic_and_the_token(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, market: str
) -> None:
    credential = await oauth_credential(client, walmart_control, market=market, account_id="latam")
    service = await new_client_token(client, "walmart:call")
    response = await client.get(
        f"/v1/proxy/latam/{market}/production/v3/orders", headers=bearer(service)
    )
    assert response.status_code == 200, response.text
    [call] = _calls(walmart_control, "/v3/orders")
    assert (call["authorization_scheme"], call["auth_passed"]) == ("Basic", True)
    assert {"WM_SEC.ACCESS_TOKEN", "WM_MARKET", "WM_CONSUMER.CHANNEL.TYPE"} <= set(call["headers"])
    everything = response.text + json.dumps(await _audited(client))
    assert credential["client_id"] not in response.text
    assert "secret-" not in everything  # the factory's client secrets start so


async def test_signature_call_with_a_body_both_ways(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    await signature_credential(client, walmart_control)
    feed = b'{"items": ["' + b"x" * 300_000 + b'"]}'
    response = await client.post(
        "/v1/proxy/acme-ca/CA/production/v3/ca/feeds?feedType=item",
        content=feed,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["body_bytes"] == len(feed)
    oauth = await oauth_credential(client, walmart_control, account_id="acme-001")
    upload = await client.put(
        "/v1/proxy/acme-001/US/production/v3/feeds",
        content=feed,
        headers={"Accept": "application/xml"},
    )
    assert upload.headers["content-type"].startswith("application/xml")
    assert hashlib.sha256(feed).hexdigest() in upload.text
    download = await client.get("/v1/proxy/acme-001/US/production/v3/reports/download?bytes=200000")
    assert len(download.content) == 200_000
    assert download.headers["content-length"] == "200000"
    assert oauth["id"]


@pytest.mark.parametrize("expired_status", [401, 400])
async def test_rejected_token_is_refreshed_and_an_idempotent_call_retried(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, expired_status: int
) -> None:
    walmart_control.settings(expired_token_status=expired_status)
    credential = await oauth_credential(client, walmart_control, account_id="acme-001")
    assert (await client.get("/v1/proxy/acme-001/US/production/v3/items")).status_code == 200
    walmart_control.expire_tokens()
    again = await client.get("/v1/proxy/acme-001/US/production/v3/items")
    assert again.status_code == 200, again.text
    assert walmart_control.stats()["token_calls"] == {credential["client_id"]: 2}
    assert any(e["details"]["retried"] for e in await _audited(client))


async def test_a_post_with_a_body_is_not_sent_twice(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control, account_id="acme-001")
    assert (await client.get("/v1/proxy/acme-001/US/production/v3/items")).status_code == 200
    walmart_control.expire_tokens()
    refused = await client.post("/v1/proxy/acme-001/US/production/v3/feeds", content=b"{}")
    assert refused.status_code == 401  # Walmart's answer, relayed; the token is dropped
    assert refused.json()["error"][0]["code"] == "UNAUTHORIZED.GMP_GATEWAY_API"
    assert len(_calls(walmart_control, "/v3/feeds")) == 1
    retried = await client.post("/v1/proxy/acme-001/US/production/v3/feeds", content=b"{}")
    assert retried.status_code == 200
    assert walmart_control.stats()["token_calls"] == {credential["client_id"]: 2}


async def test_walmart_faults(client: httpx.AsyncClient, walmart_control: SimulatorControl) -> None:
    await oauth_credential(client, walmart_control, account_id="acme-001")
    url = "/v1/proxy/acme-001/US/production/v3/orders"
    assert (await client.get(url)).status_code == 200  # the token is cached from here on
    walmart_control.add_fault(path_prefix="/v3/orders", status=429, retry_after=9, times=1)
    limited = await client.get(url)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "9")
    walmart_control.add_fault(path_prefix="/v3/orders", status=503, times=1)
    assert (await client.get(url)).status_code == 503
    walmart_control.add_fault(path_prefix="/v3/orders", mode="reset", times=1)
    assert_error(await client.get(url), 502, "walmart_unreachable")
    walmart_control.add_fault(path_prefix="/v3/orders", mode="slow", delay_seconds=4, times=1)
    assert_error(await client.get(url), 504, "walmart_timeout")


async def test_who_may_call(client: httpx.AsyncClient, walmart_control: SimulatorControl) -> None:
    await oauth_credential(client, walmart_control, account_id="acme-001")
    url = "/v1/proxy/acme-001/US/production/v3/orders"
    headers_only = await new_client_token(client, "headers:issue")
    assert_error(await client.get(url, headers=bearer(headers_only)), 403, "forbidden")
    elsewhere = await new_client_token(client, "walmart:call", account_ids=["other"])
    assert_error(await client.get(url, headers=bearer(elsewhere)), 403, "forbidden")
    assert_error(await client.get(url, headers={"Authorization": ""}), 401, "unauthenticated")
    assert_error(await client.get(url.replace("/US/", "/MX/")), 404, "not_found")
    assert_error(await client.get(url.replace("/US/", "/BR/")), 422, "validation_error")
    bad = await client.get("/v1/proxy/acme-001/US/production/v3/%2e%2e/x")
    assert "percent-encoded dot segment" in assert_error(bad, 422, "invalid_request")["message"]
    assert _calls(walmart_control, "/v3/orders") == []


async def test_the_route_forwards_through_the_proxy_of_its_state_dependency(
    vault_app: FastAPI, client: httpx.AsyncClient
) -> None:
    calls: list[ProxyCall] = []

    class Recording:
        async def forward(self, call: ProxyCall) -> None:
            calls.append(call)
            raise NotFound("stub proxy")

    vault_app.dependency_overrides[get_state] = lambda: SimpleNamespace(proxy=Recording())
    try:
        answer = await client.post("/v1/proxy/acme-001/CA/sandbox/v3/ca/feeds?x=1", content=b"{}")
    finally:
        vault_app.dependency_overrides.clear()
    assert_error(answer, 404, "not_found")
    [call] = calls
    assert (call.account_id, call.market, call.environment) == ("acme-001", "CA", "sandbox")
    assert (call.method, call.path, call.query) == ("POST", "v3/ca/feeds", "x=1")
    assert call.has_body
