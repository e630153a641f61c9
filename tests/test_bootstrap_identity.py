"""``VAULT_BOOTSTRAP_TOKEN`` re-keys the client the vault made for it, found by its own mark:
an admin's client that happens to be named "bootstrap" never receives the operator's token."""

from __future__ import annotations

import secrets

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.api.helpers import bearer


async def _call(
    app: FastAPI, method: str, path: str, token: str, **kwargs: object
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vault.test") as http:
        return await http.request(method, path, headers=bearer(token), **kwargs)  # type: ignore[arg-type]


async def test_a_client_named_bootstrap_is_not_rekeyed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    listed = (await client.get("/v1/clients")).json()["items"]
    original = next(c for c in listed if c["name"] == "bootstrap")
    impostor = await client.post(
        "/v1/clients",
        json={"name": "bootstrap", "scopes": ["audit:read"], "account_ids": ["acme-1"]},
    )
    assert impostor.status_code == 201
    assert (await client.delete(f"/v1/clients/{original['id']}")).status_code == 204

    new_token = secrets.token_urlsafe(32)
    restarted = create_app(settings.model_copy(update={"bootstrap_token": SecretStr(new_token)}))
    async with restarted.router.lifespan_context(restarted):
        # The new token is a fresh admin, not the impostor with one account's audit scope.
        made = await _call(
            restarted, "POST", "/v1/clients", new_token, json={"name": "x", "scopes": ["admin"]}
        )
        assert made.status_code == 201, made.text
        clients = (await _call(restarted, "GET", "/v1/clients", new_token)).json()["items"]
        # The impostor keeps its own token and nothing more.
        own = await _call(
            restarted, "GET", "/v1/audit", impostor.json()["token"], params={"account_id": "acme-1"}
        )
        assert own.status_code == 200
    live = {
        c["id"]: c["scopes"] for c in clients if c["name"] == "bootstrap" and not c["revoked_at"]
    }
    assert live[impostor.json()["id"]] == ["audit:read"]
    assert sorted(live.values()) == [["admin"], ["audit:read"]]
