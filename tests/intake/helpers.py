"""Creating hand-over links through the API."""

from __future__ import annotations

from typing import Any

import httpx


def link_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": "acme-ca",
        "market": "CA",
        "environment": "production",
        "kind": "signature",
        "label": "Acme Canada",
    }
    body.update(overrides)
    return body


async def create_link(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/intake-links", json=link_body(**overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def audit_actions(client: httpx.AsyncClient, prefix: str = "intake_link.") -> list[str]:
    response = await client.get("/v1/audit", params={"limit": 200})
    assert response.status_code == 200, response.text
    actions = [event["action"] for event in response.json()["items"]]
    return [action for action in reversed(actions) if action.startswith(prefix)]
