"""Delivery you can trust: retries with backoff, order per credential, the deliveries list,
resending, and disabling an endpoint that keeps failing."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from app.db import utcnow
from app.state import AppState
from app.webhooks.dispatcher import retry_delay
from app.webhooks.models import WebhookDelivery, WebhookEvent
from tests.api.walmart_setup import signature_credential
from tests.walmart_sim import SimulatorControl
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver


async def settled(client: httpx.AsyncClient, hook_id: str) -> list[dict[str, Any]]:
    """The deliveries, once none is pending (the dispatcher commits after the answer)."""
    for _ in range(100):
        items: list[dict[str, Any]] = (
            await client.get(f"/v1/webhooks/{hook_id}/deliveries")
        ).json()["items"]
        if all(item["state"] != "pending" for item in items):
            break
        await asyncio.sleep(0.05)
    return items


async def test_receiver_that_fails_twice_then_succeeds(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid")
    receiver.fail_next(2, status=500)
    queued = (await client.post(f"/v1/webhooks/{hook['id']}/test")).json()
    (delivered,) = await receiver.wait_for(1)
    assert [r.status for r in receiver.received] == [500, 500, 204]
    assert {r.webhook_id for r in receiver.received} == {queued["event_id"]}
    delivered.verify(hook["secret"])
    (item,) = await settled(client, hook["id"])
    assert (item["id"], item["state"], item["attempts"]) == (queued["delivery_id"], "succeeded", 3)
    assert [a["status_code"] for a in item["history"]] == [500, 500, 204]
    assert [a["error"] for a in item["history"]] == ["http_500", "http_500", None]
    assert all(a["latency_ms"] >= 0 for a in item["history"])


async def test_a_credentials_events_wait_behind_its_failing_one(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.disabled", "credential.deleted")
    credential = await signature_credential(client, walmart_control)
    receiver.fail_next(3)
    await client.patch(f"/v1/credentials/{credential['id']}", json={"disabled": True})
    await client.delete(f"/v1/credentials/{credential['id']}")
    await receiver.wait_for(2)
    seen = [(r.status, r.verify(hook["secret"])["type"]) for r in receiver.received]
    assert seen == [
        (503, "credential.disabled"),
        (503, "credential.disabled"),
        (503, "credential.disabled"),
        (204, "credential.disabled"),
        (204, "credential.deleted"),
    ]


async def test_retry_resends_a_delivered_event(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid")
    queued = (await client.post(f"/v1/webhooks/{hook['id']}/test")).json()
    await receiver.wait_for(1)
    await settled(client, hook["id"])
    path = f"/v1/webhooks/{hook['id']}/deliveries/{queued['delivery_id']}/retry"
    again = await client.post(path)
    assert again.status_code == 202, again.text
    await receiver.wait_for(2)
    assert [r.webhook_id for r in receiver.received] == [queued["event_id"]] * 2


def test_backoff_starts_within_10_seconds_and_grows_to_hours() -> None:
    delays = [retry_delay(n, 5.0) for n in range(1, 15)]
    assert 4.0 <= delays[0] <= 5.0
    assert all(later > earlier for earlier, later in itertools.pairwise(delays[:8]))
    assert max(delays) <= 12 * 3600
    assert sum(delays) > 3 * 86400 - 12 * 3600  # attempts cover the three-day window


async def test_pending_deliveries_and_latency_are_measured(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid")
    await client.post(f"/v1/webhooks/{hook['id']}/test")
    await receiver.wait_for(1)
    metrics = (await client.get("/metrics")).text
    assert "vault_webhook_delivery_latency_seconds_count" in metrics
    assert "vault_webhook_deliveries_pending" in metrics


async def test_finished_deliveries_are_pruned_after_the_retention(
    client: httpx.AsyncClient, vault_state: AppState, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid")
    await client.post(f"/v1/webhooks/{hook['id']}/test")
    await receiver.wait_for(1)
    await client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False})
    async with vault_state.sessionmaker() as session, session.begin():
        old = utcnow() - timedelta(days=31)
        await session.execute(update(WebhookDelivery).values(created_at=old))
        await session.execute(update(WebhookEvent).values(created_at=old))
    for _ in range(50):  # the dispatcher records the answered delivery
        if await vault_state.webhooks.prune() == 1:
            break
        await asyncio.sleep(0.05)
    listed = await client.get(f"/v1/webhooks/{hook['id']}/deliveries")
    assert listed.json()["items"] == []
