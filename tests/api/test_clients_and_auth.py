"""API clients, tokens, scopes and account restrictions."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.helpers import assert_error, bearer, new_client_token
from tests.factories import oauth_body, signature_body


async def test_create_client_shows_token_once(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/clients", json={"name": "order-sync", "scopes": ["headers:issue", "credentials:read"]}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["token"].startswith("mpv_")
    assert created["scopes"] == ["credentials:read", "headers:issue"]
    assert created["account_ids"] is None
    listed = await client.get("/v1/clients")
    assert created["token"] not in listed.text
    names = {c["name"] for c in listed.json()["items"]}
    assert names == {"bootstrap", "order-sync"}
    assert all("token" not in c for c in listed.json()["items"])


async def test_client_body_is_validated(client: httpx.AsyncClient) -> None:
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "", "scopes": ["admin"]},
        {"name": "x", "scopes": ["admin"], "account_ids": ["bad account"]},
        {"name": "x", "scopes": ["admin"], "token": "mine"},
    ):
        assert_error(await client.post("/v1/clients", json=body), 422, "validation_error")


async def test_missing_malformed_and_unknown_tokens_get_401(client: httpx.AsyncClient) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer mpv_unknown"},
        {"Authorization": "Bearer " + "x" * 600},
    ):
        response = await client.get("/v1/credentials", headers=headers)
        assert_error(response, 401, "unauthenticated")
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as anon:
        assert_error(await anon.get("/v1/credentials"), 401, "unauthenticated")


async def test_revoked_token_refused_on_next_request(client: httpx.AsyncClient) -> None:
    created = (await client.post("/v1/clients", json={"name": "tmp", "scopes": ["admin"]})).json()
    headers = bearer(created["token"])
    assert (await client.get("/v1/credentials", headers=headers)).status_code == 200
    assert (await client.delete(f"/v1/clients/{created['id']}")).status_code == 204
    assert_error(await client.get("/v1/credentials", headers=headers), 401, "unauthenticated")
    assert_error(await client.delete(f"/v1/clients/{created['id']}"), 404, "not_found")
    assert_error(await client.delete(f"/v1/clients/{uuid.uuid4()}"), 404, "not_found")
    listed = (await client.get("/v1/clients")).json()["items"]
    assert next(c for c in listed if c["id"] == created["id"])["revoked_at"] is not None


@pytest.mark.parametrize(
    ("scope", "method", "path", "allowed"),
    [
        ("credentials:read", "GET", "/v1/credentials", True),
        ("credentials:read", "POST", "/v1/credentials", False),
        ("credentials:write", "POST", "/v1/credentials", True),
        ("credentials:write", "GET", "/v1/credentials", False),
        ("headers:issue", "GET", "/v1/credentials", False),
        ("audit:read", "POST", "/v1/clients", False),
        ("credentials:write", "GET", "/v1/clients", False),
    ],
)
async def test_scopes_are_enforced(
    client: httpx.AsyncClient, scope: str, method: str, path: str, allowed: bool
) -> None:
    token = await new_client_token(client, scope)
    body = oauth_body() if path == "/v1/credentials" else {"name": "n", "scopes": ["admin"]}
    response = await client.request(
        method, path, headers=bearer(token), json=body if method == "POST" else None
    )
    if allowed:
        assert response.status_code in (200, 201), response.text
    else:
        error = assert_error(response, 403, "forbidden")
        assert error["details"]["required_scope"]


async def test_account_restriction(client: httpx.AsyncClient) -> None:
    mine = (await client.post("/v1/credentials", json=oauth_body(account_id="mine"))).json()
    theirs = (await client.post("/v1/credentials", json=signature_body(account_id="theirs"))).json()
    token = await new_client_token(
        client, "credentials:read", "credentials:write", account_ids=["mine"]
    )
    limited = bearer(token)
    listed = (await client.get("/v1/credentials", headers=limited)).json()["items"]
    assert [c["id"] for c in listed] == [mine["id"]]
    assert (await client.get(f"/v1/credentials/{mine['id']}", headers=limited)).status_code == 200
    refused = assert_error(
        await client.get(f"/v1/credentials/{theirs['id']}", headers=limited), 403, "forbidden"
    )
    assert refused["details"] == {}  # known by id only: whose it is stays unsaid
    assert_error(
        await client.get("/v1/credentials", params={"account_id": "theirs"}, headers=limited),
        403,
        "forbidden",
    )
    assert_error(
        await client.patch(f"/v1/credentials/{theirs['id']}", json={"label": "x"}, headers=limited),
        403,
        "forbidden",
    )
    assert_error(
        await client.delete(f"/v1/credentials/{theirs['id']}", headers=limited), 403, "forbidden"
    )
    assert_error(
        await client.post(
            "/v1/credentials", json=oauth_body(account_id="theirs", market="MX"), headers=limited
        ),
        403,
        "forbidden",
    )
    assert (await client.get(f"/v1/credentials/{theirs['id']}")).json()["label"] == "Acme Canada"


async def test_admin_implies_every_scope(client: httpx.AsyncClient) -> None:
    token = await new_client_token(client, "admin")
    response = await client.post("/v1/credentials", json=oauth_body(), headers=bearer(token))
    assert response.status_code == 201
