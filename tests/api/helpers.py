"""Small helpers for API tests: new clients with given scopes, error-shape assertions."""

from __future__ import annotations

from typing import Any

import httpx


async def new_client_token(
    admin: httpx.AsyncClient, *scopes: str, account_ids: list[str] | None = None
) -> str:
    body: dict[str, Any] = {"name": f"client-{'-'.join(scopes)}", "scopes": list(scopes)}
    if account_ids is not None:
        body["account_ids"] = account_ids
    response = await admin.post("/v1/clients", json=body)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    error: dict[str, Any] = body["error"]
    return error
