"""The simulator's OAuth side over real HTTP: token API, token detail, OAuth-protected paths."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from tests.walmart_sim import SimulatorControl, SimulatorControlError
from tests.walmart_sim.bodies import pattern_bytes
from tests.walmart_sim.testkit import (
    CHANNEL_TYPE,
    CLIENT_ID,
    CLIENT_SECRET,
    basic,
    error_code,
    request_token,
    service_headers,
    token_for,
)

UNAUTHORIZED = "UNAUTHORIZED.GMP_GATEWAY_API"


async def test_token_success_shape_and_counting(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    first = await request_token(client)
    second = await request_token(client)
    wrong = await request_token(client, secret="not-the-secret")
    unknown = await request_token(client, "no-such-client", "x")

    assert first.status_code == second.status_code == 200
    body = first.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert len(body["access_token"]) >= 600
    assert body["access_token"] != second.json()["access_token"]
    assert wrong.status_code == unknown.status_code == 401
    stats = control.stats()
    assert stats["token_calls"] == {CLIENT_ID: 2}
    assert stats["token_failures"] == {CLIENT_ID: 1, "no-such-client": 1}
    assert stats["tokens_issued"] == 2


async def test_token_lifetime_follows_settings(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    control.settings(token_lifetime_seconds=60)
    assert (await request_token(client)).json()["expires_in"] == 60


async def test_wrong_credentials_use_walmart_error_shape(
    client: httpx.AsyncClient, oauth_client: str
) -> None:
    response = await request_token(client, secret="wrong")
    error = response.json()["error"][0]
    assert response.status_code == 401
    assert error["code"] == UNAUTHORIZED
    assert error["field"] == "UNAUTHORIZED"
    assert error["description"] == "Unauthorized"
    assert (error["severity"], error["category"]) == ("ERROR", "DATA")
    assert error["causes"] == []
    assert error["errorIdentifiers"] == {}
    assert error["info"]


@pytest.mark.parametrize("header", ["WM_SVC.NAME", "WM_QOS.CORRELATION_ID"])
async def test_token_missing_header_is_400(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str, header: str
) -> None:
    response = await request_token(client, drop=header)
    assert response.status_code == 400
    assert error_code(response) == "MISSING_REQUEST_HEADER.GMP_GATEWAY_API"
    assert response.json()["error"][0]["field"] == header
    assert control.stats()["token_failures"] == {CLIENT_ID: 1}


async def test_token_bad_grant_and_content_type_are_400(
    client: httpx.AsyncClient, oauth_client: str
) -> None:
    headers = {"Authorization": basic(CLIENT_ID, CLIENT_SECRET), **service_headers()}
    bad_grant = await client.post("/v3/token", headers=headers, data={"grant_type": "password"})
    as_json = await client.post("/v3/token", headers=headers, json={"grant_type": "x"})
    assert bad_grant.status_code == as_json.status_code == 400


async def test_token_market_rules(client: httpx.AsyncClient, control: SimulatorControl) -> None:
    control.add_oauth_client("mx-client", "mx-secret", market="MX")
    control.add_oauth_client("us-client", "us-secret")
    assert (await request_token(client, "mx-client", "mx-secret")).status_code == 401
    assert (await request_token(client, "mx-client", "mx-secret", market="CA")).status_code == 401
    assert (await request_token(client, "mx-client", "mx-secret", market="mx")).status_code == 200
    assert (await request_token(client, "us-client", "us-secret")).status_code == 200
    assert (await request_token(client, "us-client", "us-secret", market="US")).status_code == 200


async def _detail(
    client: httpx.AsyncClient,
    token: str,
    client_id: str = CLIENT_ID,
    secret: str = CLIENT_SECRET,
    **extra: str,
) -> httpx.Response:
    headers = {"WM_SEC.ACCESS_TOKEN": token, "Authorization": basic(client_id, secret)}
    return await client.get("/v3/token/detail", headers=headers | service_headers() | extra)


async def test_token_detail_and_channel_match(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_oauth_client("with-channel", "s", channel_type=CHANNEL_TYPE)
    control.add_oauth_client("no-channel", "s")
    token = await token_for(client, "with-channel", secret="s")
    channel = {"WM_CONSUMER.CHANNEL.TYPE": CHANNEL_TYPE}

    detail = (await _detail(client, token, "with-channel", "s", **channel)).json()
    assert detail["is_valid"] is True
    assert detail["is_channel_match"] is True
    assert int(detail["expire_at"]) - int(detail["issued_at"]) == 900_000
    assert isinstance(detail["expire_at"], str)
    assert detail["scopes"]["item"] == detail["scopes"]["order"] == "full_access"
    other = {"WM_CONSUMER.CHANNEL.TYPE": "another-channel"}
    other_detail = await _detail(client, token, "with-channel", "s", **other)
    assert other_detail.json()["is_channel_match"] is False
    assert (await _detail(client, token, "with-channel", "s")).json()["is_channel_match"] is False
    plain = await token_for(client, "no-channel", secret="s")
    assert (await _detail(client, plain, "no-channel", "s")).json()["is_channel_match"] is True


async def test_token_detail_needs_the_clients_basic_and_reports_is_valid(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_oauth_client("stale-keys", "s", token_valid=False)
    control.add_oauth_client("other", "o")
    token = await token_for(client, "stale-keys", secret="s")
    without = await client.get(
        "/v3/token/detail", headers={"WM_SEC.ACCESS_TOKEN": token, **service_headers()}
    )
    assert without.status_code == 401
    assert error_code(without) == UNAUTHORIZED
    assert (await _detail(client, token, "other", "o")).status_code == 401
    assert (await _detail(client, token, "stale-keys", "wrong")).status_code == 401
    detail = await _detail(client, token, "stale-keys", "s")
    assert detail.status_code == 200
    assert detail.json()["is_valid"] is False


async def test_token_type_follows_settings(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    assert (await request_token(client)).json()["token_type"] == "Bearer"
    control.settings(token_type="mac")
    assert (await request_token(client)).json()["token_type"] == "mac"


@pytest.mark.parametrize("market", ["MX", "CL"])
async def test_mx_and_cl_calls_need_basic_and_channel_type(
    client: httpx.AsyncClient, control: SimulatorControl, market: str
) -> None:
    control.add_oauth_client("latam", "latam-secret", market=market, channel_type=CHANNEL_TYPE)
    token = await token_for(client, "latam", secret="latam-secret", market=market)
    headers = {"WM_SEC.ACCESS_TOKEN": token, "WM_MARKET": market.lower(), **service_headers()}
    headers["WM_CONSUMER.CHANNEL.TYPE"] = CHANNEL_TYPE
    assert (await client.get("/v3/orders", headers=headers)).status_code == 401
    headers["Authorization"] = basic("latam", "wrong")
    assert (await client.get("/v3/orders", headers=headers)).status_code == 401
    headers["Authorization"] = basic("latam", "latam-secret")
    assert (await client.get("/v3/orders", headers=headers)).status_code == 200
    del headers["WM_CONSUMER.CHANNEL.TYPE"]
    missing = await client.get("/v3/orders", headers=headers)
    assert missing.status_code == 400
    assert error_code(missing) == "MISSING_REQUEST_HEADER.GMP_GATEWAY_API"


async def test_bodies_stream_both_ways_and_xml_is_answered(
    client: httpx.AsyncClient, oauth_client: str
) -> None:
    headers = {"WM_SEC.ACCESS_TOKEN": await token_for(client), **service_headers()}
    upload = await client.post("/v3/feeds?feedType=item", headers=headers, content=b"x" * 70_000)
    assert upload.json()["body_bytes"] == 70_000
    assert upload.json()["sha256"] == hashlib.sha256(b"x" * 70_000).hexdigest()
    download = await client.get("/v3/reports/download?bytes=150000", headers=headers)
    assert download.content == pattern_bytes(150_000)
    assert download.headers["content-length"] == "150000"
    xml = await client.get("/v3/items", headers=headers | {"Accept": "application/xml"})
    assert xml.headers["content-type"].startswith("application/xml")
    assert xml.text == "<response><ok>True</ok><path>/v3/items</path></response>"


@pytest.mark.parametrize(("setting", "code"), [(401, UNAUTHORIZED), (400, "INVALID_TOKEN")])
async def test_expired_token_on_detail_and_api(
    client: httpx.AsyncClient,
    control: SimulatorControl,
    oauth_client: str,
    setting: int,
    code: str,
) -> None:
    control.settings(expired_token_status=setting)
    token = await token_for(client)
    assert (await _detail(client, token)).status_code == 200
    assert control.expire_tokens()["expired"] == 1
    detail = await _detail(client, token)
    api = await client.get("/v3/items", headers={"WM_SEC.ACCESS_TOKEN": token, **service_headers()})
    for response in (detail, api):
        assert response.status_code == setting
        assert error_code(response).startswith(code)


async def test_oauth_path_accepts_live_token(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    token = await token_for(client)
    headers = {"WM_SEC.ACCESS_TOKEN": token, **service_headers()}
    response = await client.get("/v3/items?limit=5", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "path": "/v3/items"}
    assert (await client.post("/v3/feeds?feedType=item", headers=headers)).status_code == 200
    record = control.stats()["requests"][-1]
    assert record["auth"] == "oauth"
    assert record["auth_passed"] is True
    assert "WM_SEC.ACCESS_TOKEN" in record["headers"]
    assert token not in json.dumps(control.stats())  # header names only, never values


@pytest.mark.parametrize("auth", ["missing", "unknown", "bearer"])
async def test_oauth_path_refuses_bad_auth(
    client: httpx.AsyncClient, oauth_client: str, auth: str
) -> None:
    token = await token_for(client)
    headers = service_headers()
    if auth == "unknown":
        headers["WM_SEC.ACCESS_TOKEN"] = token[::-1]
    elif auth == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    response = await client.get("/v3/orders", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == UNAUTHORIZED


async def test_oauth_path_requires_service_headers_and_market(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_oauth_client("ca-client", "ca-secret", market="CA")
    token = await token_for(client, "ca-client", secret="ca-secret", market="CA")
    headers = {"WM_SEC.ACCESS_TOKEN": token, **service_headers()}
    assert (await client.get("/v3/orders", headers=headers)).status_code == 401
    headers["WM_MARKET"] = "ca"
    assert (await client.get("/v3/orders", headers=headers)).status_code == 200
    del headers["WM_SVC.NAME"]
    response = await client.get("/v3/orders", headers=headers)
    assert response.status_code == 400
    assert error_code(response) == "MISSING_REQUEST_HEADER.GMP_GATEWAY_API"


async def test_removed_client_loses_tokens_and_token_calls(
    client: httpx.AsyncClient, control: SimulatorControl, oauth_client: str
) -> None:
    token = await token_for(client)
    control.remove_oauth_client(CLIENT_ID)
    headers = {"WM_SEC.ACCESS_TOKEN": token, **service_headers()}
    assert (await client.get("/v3/items", headers=headers)).status_code == 401
    assert (await request_token(client)).status_code == 401


async def test_unknown_path_and_bad_control_input(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert error_code(response) == "NOT_FOUND.GMP_GATEWAY_API"
    with pytest.raises(SimulatorControlError, match="mode"):
        control.add_fault(mode="explode")
    with pytest.raises(SimulatorControlError, match="expired_token_status"):
        control.settings(expired_token_status=403)
    with pytest.raises(SimulatorControlError, match="public key"):
        control.add_consumer("c", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----")
