"""Small helpers for API tests: new clients with given scopes, error-shape assertions, audit
events as issued headers hand them to the batcher."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.audit.batcher import AuditBatcher


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


def add_issued(batcher: AuditBatcher, count: int, *, account_id: str, request_prefix: str) -> None:
    """``count`` "headers.issued" events handed to the batcher, as issued headers would be."""
    for n in range(count):
        batcher.add(
            action="headers.issued",
            client_id=None,
            request_id=f"{request_prefix}-{n}",
            account_id=account_id,
            credential_id=uuid.UUID(int=n + 1),
            version=1,
            details={"kind": "signature", "method": "GET", "path": "/v3/ca/feeds"},
        )
