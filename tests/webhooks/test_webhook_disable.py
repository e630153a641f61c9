"""An endpoint that keeps failing is disabled (audited, counted), is sent nothing while
disabled, and gets what waited once turned back on."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.config import Settings
from tests.api.test_rotation import rows
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_disable_after_seconds": 0.5})


async def test_endpoint_that_keeps_failing_is_disabled_audited_and_counted(
    client: httpx.AsyncClient, receiver: Receiver, settings: Settings
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid")
    receiver.fail_next(100, status=502)
    await client.post(f"/v1/webhooks/{hook['id']}/test")
    for _ in range(100):
        (endpoint,) = (await client.get("/v1/webhooks")).json()["items"]
        if not endpoint["enabled"]:
            break
        await asyncio.sleep(0.1)
    assert endpoint["enabled"] is False
    assert "failed" in endpoint["disabled_reason"]
    audit = (await client.get("/v1/audit", params={"action": "webhook.disabled"})).json()
    assert audit["items"][0]["details"]["endpoint_id"] == hook["id"]
    metrics = (await client.get("/metrics")).text
    assert f'vault_webhook_endpoints_disabled_total{{endpoint_id="{hook["id"]}"}}' in metrics
    assert f'vault_webhook_delivery_failures_total{{endpoint_id="{hook["id"]}"}}' in metrics
    attempts = len(receiver.received)
    await asyncio.sleep(0.5)
    assert len(receiver.received) == attempts  # a disabled endpoint is sent nothing
    # Turned back on, it gets what waited.
    receiver.answers.clear()
    await client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True})
    await receiver.wait_for(1)
    # The dispatcher records the delivery once the receiver has answered.
    query = "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'"
    for _ in range(50):
        if await rows(settings, query) == [(0,)]:
            break
        await asyncio.sleep(0.05)
    assert await rows(settings, query) == [(0,)]
