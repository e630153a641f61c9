"""The seller's side of a connection, driven over HTTP: the consent page on the simulator,
then the vault's callback page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.connections.conftest import PUBLIC_URL
from tests.walmart_sim import SimulatorControl

APP_CLIENT_ID = "mports-app-0001"
APP_SECRET = "mports-app-secret-0123456789abcdef"
SELLER_ID = "10000012345"
CALLBACK = "/connect/walmart/callback"


async def register_app(
    client: httpx.AsyncClient,
    control: SimulatorControl,
    *,
    rotate: bool = False,
    retire_at_once: bool = False,
) -> dict[str, Any]:
    control.add_app(
        APP_CLIENT_ID,
        APP_SECRET,
        [PUBLIC_URL + CALLBACK],
        rotate=rotate,
        retire_at_once=retire_at_once,
    )
    created = await client.post(
        "/v1/walmart-apps",
        json={
            "label": "mPorts",
            "environment": "production",
            "client_id": APP_CLIENT_ID,
            "client_secret": APP_SECRET,
        },
    )
    assert created.status_code == 201, created.text
    app: dict[str, Any] = created.json()
    return app


async def new_link(client: httpx.AsyncClient, **overrides: object) -> dict[str, Any]:
    body: dict[str, object] = {
        "account_id": "acme-001",
        "market": "US",
        "environment": "production",
        "label": "Acme main store",
    }
    created = await client.post("/v1/connections", json=body | overrides)
    assert created.status_code == 201, created.text
    link: dict[str, Any] = created.json()
    return link


async def consent(consent_url: str, decision: str = "authorize") -> dict[str, str]:
    """Open Walmart's consent page and press a button; the callback's query parameters."""
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(consent_url)
        assert page.status_code == 200, page.text
        query = {k: v[0] for k, v in parse_qs(urlsplit(consent_url).query).items()}
        form = {k: query[k] for k in ("clientId", "redirectUri", "clientType", "nonce", "state")}
        base = consent_url.split("?")[0]
        answer = await browser.post(base, data=form | {"decision": decision})
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == query["redirectUri"]
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def callback(client: httpx.AsyncClient, query: dict[str, str]) -> httpx.Response:
    """The seller's browser arriving at the vault's callback page (no API token)."""
    return await client.get(CALLBACK, params=query, headers={"Authorization": ""})


async def connect(client: httpx.AsyncClient, **overrides: object) -> dict[str, Any]:
    """A whole connection; the credential it made."""
    link = await new_link(client, **overrides)
    page = await callback(client, await consent(link["consent_url"]))
    assert page.status_code == 200, page.text
    shown = (await client.get(f"/v1/connections/{link['id']}")).json()
    assert shown["status"] == "connected", shown
    credential: dict[str, Any] = (
        await client.get(f"/v1/credentials/{shown['credential_id']}")
    ).json()
    return credential
