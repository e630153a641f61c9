"""Registering credentials that the Walmart simulator also knows, and asking for headers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import CHANNEL_TYPE, oauth_body, rsa_key, signature_body
from tests.walmart_sim import SimulatorControl


async def signature_credential(
    client: httpx.AsyncClient, control: SimulatorControl, **overrides: Any
) -> dict[str, Any]:
    body = signature_body(**overrides)
    control.add_consumer(body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE)
    response = await client.post("/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def oauth_credential(
    client: httpx.AsyncClient, control: SimulatorControl, *, market: str = "US", **overrides: Any
) -> dict[str, Any]:
    body = oauth_body(market=market, **overrides)
    auth = body["auth"]
    control.add_oauth_client(
        auth["client_id"],
        auth["client_secret"],
        market=market,
        channel_type=auth.get("channel_type"),
    )
    response = await client.post("/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def headers_for(
    client: httpx.AsyncClient, credential_id: str, method: str, url: str
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/credentials/{credential_id}/headers", json={"method": method, "url": url}
    )
    assert response.status_code == 200, response.text
    issued: dict[str, Any] = response.json()
    return issued
