"""A small populated vault for the security tests, and the checks every refusal must pass."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.walmart_setup import oauth_credential, signature_credential
from tests.factories import CHANNEL_TYPE, rsa_key, seller_center_key
from tests.walmart_sim import SimulatorControl


@dataclass(frozen=True, slots=True)
class World:
    signature_id: str  # CA signature credential of ``account_id``, known to the simulator
    signature_auth: dict[str, Any]  # its ``auth`` body, to rotate it to the same key
    oauth_id: str  # US OAuth credential of ``account_id``, known to the simulator
    doomed_id: str  # a credential of ``other_account_id``, for DELETE to destroy
    account_id: str
    other_account_id: str
    walmart_url: str  # the simulator, as the credentials' production base URL

    def feeds_url(self) -> str:
        return f"{self.walmart_url}/v3/ca/feeds?limit=1"


async def build_world(
    client: httpx.AsyncClient, control: SimulatorControl, walmart_url: str
) -> World:
    account, other = "acme-sec", "other-sec"
    signature = await signature_credential(client, control, account_id=account)
    oauth = await oauth_credential(client, control, account_id=account)
    doomed = await signature_credential(client, control, account_id=other)
    return World(
        signature_id=signature["id"],
        signature_auth={
            "kind": "signature",
            "consumer_id": signature["consumer_id"],
            "private_key": seller_center_key(rsa_key()),
            "channel_type": CHANNEL_TYPE,
        },
        oauth_id=oauth["id"],
        doomed_id=doomed["id"],
        account_id=account,
        other_account_id=other,
        walmart_url=walmart_url,
    )


@dataclass(frozen=True, slots=True)
class Newer:
    """One of each resource of the App Store and webhook routes, for the tests that enumerate
    every route: a Walmart app, a pending connection of ``world.account_id`` and a webhook
    endpoint with two queued deliveries (to a closed loopback port: they never succeed)."""

    app_id: str
    connection_id: str
    webhook_id: str
    delivery_id: str


NEW_APP = {"label": "mPorts", "environment": "production", "client_secret": "app-secret-0123"}
WEBHOOK_URL = "http://127.0.0.1:9/vault-events"  # the discard port: nothing listens
NEW_WEBHOOK = {"url": WEBHOOK_URL, "events": ["connection.completed"]}


async def build_newer(client: httpx.AsyncClient, world: World) -> Newer:
    app = await client.post("/v1/walmart-apps", json=NEW_APP | {"client_id": "sec-app-0001"})
    assert app.status_code == 201, app.text
    link = {"account_id": world.account_id, "market": "US", "environment": "production"}
    connection = await client.post("/v1/connections", json=link | {"label": "Acme App Store"})
    assert connection.status_code == 201, connection.text
    webhook = await client.post("/v1/webhooks", json=NEW_WEBHOOK)
    assert webhook.status_code == 201, webhook.text
    webhook_id = webhook.json()["id"]
    deliveries = [(await client.post(f"/v1/webhooks/{webhook_id}/test")) for _ in range(2)]
    assert [d.status_code for d in deliveries] == [202, 202], deliveries[0].text
    return Newer(
        app_id=app.json()["id"],
        connection_id=connection.json()["id"],
        webhook_id=webhook_id,
        delivery_id=deliveries[0].json()["delivery_id"],
    )


def assert_refused(
    response: httpx.Response,
    status: int,
    code: str | None = None,
    *,
    secrets: tuple[str, ...] = (),
    counts: Counter[str] | None = None,
) -> dict[str, Any]:
    """``response`` is a refusal in the one error shape, with no secret of the request in it."""
    assert response.status_code == status, (response.request.url, response.text[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    if code is not None:
        assert error["code"] == code, error
    for secret in secrets:
        assert secret not in response.text, "a secret of the request was echoed"
    if counts is not None:
        counts["hostile cases"] += 1
    return error
