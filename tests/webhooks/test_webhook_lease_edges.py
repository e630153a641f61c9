"""A lease's edges: an operator's retry while an outcome is settled, a send that raises, and
a dispatcher stopped in the middle of its sends."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.state import AppState
from app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhooks.repository import WebhookRepository
from app.webhooks.sending import Outcome, Sender
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhook_lease import _emit, _only_delivery, _replica


async def test_a_retry_asked_while_an_outcome_is_settled_is_kept(
    client: httpx.AsyncClient,
    vault_state: AppState,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not vault_state.webhooks.row_locks:
        pytest.skip("SQLite writes one transaction at a time: the retry cannot come between")
    await vault_state.webhooks.stop()
    hook = await subscribe(client, receiver, "credential.invalid")
    replica = _replica(vault_state, send_timeout=5)
    await _emit(vault_state, str(uuid.uuid4()))
    settling, go_on = asyncio.Event(), asyncio.Event()
    endpoint_of = WebhookRepository.endpoint_of

    async def slow_settle(self: WebhookRepository, delivery: WebhookDelivery) -> Any:
        settling.set()  # the delivery's row is locked by the settle now
        await go_on.wait()
        return await endpoint_of(self, delivery)

    monkeypatch.setattr(WebhookRepository, "endpoint_of", slow_settle)
    sending = asyncio.create_task(replica.run_once())
    await settling.wait()
    delivery = await _only_delivery(vault_state)
    path = f"/v1/webhooks/{hook['id']}/deliveries/{delivery.id}/retry"
    retrying = asyncio.create_task(client.post(path))
    await asyncio.sleep(0.3)
    assert not retrying.done(), "the retry did not wait for the settle"
    go_on.set()
    assert await sending == 1
    assert (await retrying).status_code == 202
    after = await _only_delivery(vault_state)
    assert (after.state, after.attempts) == ("pending", 1)  # sent once, and asked again
    monkeypatch.setattr(WebhookRepository, "endpoint_of", endpoint_of)
    assert await replica.run_once() == 1
    assert len(receiver.received) == 2


async def test_a_send_that_raises_costs_the_batch_nothing(
    client: httpx.AsyncClient,
    vault_state: AppState,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await vault_state.webhooks.stop()
    broken = await subscribe(client, receiver, "credential.invalid")
    await subscribe(client, receiver, "credential.invalid")
    replica = _replica(vault_state, send_timeout=5)
    post = Sender._post

    async def buggy(
        self: Sender, event: WebhookEvent, endpoint: WebhookEndpoint, *args: Any
    ) -> Outcome:
        if str(endpoint.id) == broken["id"]:
            raise RuntimeError("a bug in one send")
        return await post(self, event, endpoint, *args)

    monkeypatch.setattr(Sender, "_post", buggy)
    await _emit(vault_state, str(uuid.uuid4()))  # one delivery to each endpoint
    assert await replica.run_once() == 2
    async with vault_state.sessionmaker() as session:
        deliveries = {
            str(d.endpoint_id): d
            for d in (await session.execute(select(WebhookDelivery))).scalars()
        }
    failed = deliveries.pop(broken["id"])
    (delivered,) = deliveries.values()
    assert (failed.state, failed.attempts, failed.claimed_until) == ("pending", 1, None)
    assert failed.history[-1]["error"] == "error:RuntimeError"
    assert (delivered.state, delivered.attempts) == ("succeeded", 1)
    assert len(receiver.received) == 1


async def test_a_dispatcher_stopped_mid_send_gives_its_leases_back(
    client: httpx.AsyncClient, vault_state: AppState, receiver: Receiver
) -> None:
    await vault_state.webhooks.stop()
    await subscribe(client, receiver, "credential.invalid")
    replica = _replica(vault_state, send_timeout=5)
    await _emit(vault_state, str(uuid.uuid4()))
    receiver.hold_next()
    sending = asyncio.create_task(replica.run_once())
    assert await asyncio.to_thread(receiver.held.wait, 5), "the delivery never started"
    assert (await _only_delivery(vault_state)).claimed_until is not None
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    receiver.release.set()
    after = await _only_delivery(vault_state)
    assert (after.state, after.attempts, after.claimed_until) == ("pending", 0, None)
