"""App Store connections announce themselves: ``connection.completed`` and
``connection.failed`` from the callback, ``credential.invalid`` with reason
``reconnect_required`` when Walmart refuses the refresh token (within 10 s), and
``credential.recovered`` once the seller connects again."""

from __future__ import annotations

import time

import httpx
import pytest

from app.config import Settings
from tests.api.helpers import assert_error
from tests.connections.conftest import PUBLIC_URL
from tests.connections.flow import callback, connect, consent, new_link, register_app
from tests.connections.test_refresh import headers, refresh
from tests.walmart_sim import SimulatorControl, SimulatorServer
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver

EVENTS = ("credential.invalid", "credential.recovered", "connection.completed", "connection.failed")


@pytest.fixture
def settings(settings: Settings, walmart: SimulatorServer) -> Settings:
    return settings.model_copy(
        update={"public_url": PUBLIC_URL, "walmart_consent_url": f"{walmart.base_url}/consent"}
    )


async def test_refused_refresh_then_reconnection(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    walmart: SimulatorServer,
    receiver: Receiver,
) -> None:
    hook = await subscribe(client, receiver, *EVENTS)
    await register_app(client, walmart_control)
    credential = await connect(client)
    await receiver.wait_for(1)
    walmart_control.revoke_app(credential["client_id"], credential["seller_id"])
    await refresh(client, credential)
    refused_at = time.time()
    assert_error(await headers(client, walmart), 409, "reconnect_required")
    invalid = (await receiver.wait_for(2, within=10))[1]
    assert invalid.at - refused_at < 10
    await connect(client)
    await receiver.wait_for(4)
    payloads = [r.verify(hook["secret"]) for r in receiver.received]
    assert [p["type"] for p in payloads] == [
        "connection.completed",
        "credential.invalid",
        "credential.recovered",
        "connection.completed",
    ]
    completed, broken, recovered, _ = (p["data"] for p in payloads)
    assert completed["credential_id"] == credential["id"]
    assert completed["status"] == "connected"
    assert broken == {
        "credential_id": credential["id"],
        "account_id": "acme-001",
        "market": "US",
        "environment": "production",
        "status": "invalid",
        "reason": "reconnect_required",
    }
    del broken["reason"]
    assert recovered == broken | {"status": "valid"}


async def test_declined_consent_is_a_failed_connection(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, *EVENTS)
    await register_app(client, walmart_control)
    link = await new_link(client)
    await callback(client, await consent(link["consent_url"], decision="decline"))
    (failed,) = await receiver.wait_for(1)
    payload = failed.verify(hook["secret"])
    assert payload["type"] == "connection.failed"
    assert payload["data"]["connection_id"] == link["id"]
    assert payload["data"]["reason"] == "declined"
    assert payload["data"]["status"] == "failed"
