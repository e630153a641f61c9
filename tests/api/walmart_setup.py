"""Registering credentials that the Walmart simulator also knows, asking for headers, and
rotating a credential's key or the KEK."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings
from app.crypto import Envelope, LocalKeyring
from tests.factories import (
    CHANNEL_TYPE,
    keks_rotated_to,
    new_rsa_key,
    oauth_body,
    rsa_key,
    signature_auth,
    signature_body,
)
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


async def rotate_to_new_key(
    client: httpx.AsyncClient, control: SimulatorControl, credential: dict[str, Any]
) -> dict[str, Any]:
    """A signature credential rotated to a new key Walmart knows (its next version current):
    the rotation's answer."""
    new_key = new_rsa_key(1024)
    control.add_consumer(credential["consumer_id"], new_key, channel_type=CHANNEL_TYPE)
    response = await client.post(
        f"/v1/credentials/{credential['id']}/rotate",
        json={"auth": signature_auth(credential["consumer_id"], new_key)},
    )
    assert response.status_code == 200, response.text
    rotated: dict[str, Any] = response.json()
    return rotated


def with_new_kek(settings: Settings, kid: str) -> Envelope:
    """The vault's envelope after a KEK rotation: a new KEK ``kid`` first, the old ones after."""
    assert settings.local_keks is not None
    return Envelope(LocalKeyring.parse(keks_rotated_to(kid, settings.local_keks)))
