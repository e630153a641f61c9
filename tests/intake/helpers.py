"""Creating hand-over links through the API."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import CHANNEL_TYPE


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


CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def token_path(created: dict[str, Any]) -> str:
    """The link's path on the vault (its URL without ``VAULT_PUBLIC_URL``)."""
    url: str = created["url"]
    return "/intake/" + url.rsplit("/intake/", 1)[1]


async def open_form(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, str]:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match is not None, "the form carries its CSRF token"
    return page, match.group(1)


async def post_form(
    client: httpx.AsyncClient, path: str, fields: dict[str, str], csrf: str | None
) -> httpx.Response:
    data = dict(fields)
    if csrf is not None:
        data["csrf_token"] = csrf
    return await client.post(path, data=data)


def signature_fields(consumer_id: str, key_text: str) -> dict[str, str]:
    return {"consumer_id": consumer_id, "private_key": key_text, "channel_type": CHANNEL_TYPE}
