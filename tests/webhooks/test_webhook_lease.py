"""A delivery is leased while it is sent: no transaction stays open during the outbound call,
no other claim takes it before its lease ends, and an outcome whose lease was taken over is
not recorded over the new sender's."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.db import transaction, utcnow
from app.state import AppState
from app.webhooks import dispatcher
from app.webhooks.dispatcher import WebhookDispatcher
from app.webhooks.events import emit
from app.webhooks.models import WebhookDelivery
from app.webhooks.repository import WebhookRepository
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver

SECOND = timedelta(seconds=1)


async def test_a_delivery_in_flight_holds_no_transaction(
    client: httpx.AsyncClient, vault_state: AppState, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid")
    receiver.hold_next()
    queued = (await client.post(f"/v1/webhooks/{hook['id']}/test")).json()
    assert await asyncio.to_thread(receiver.held.wait, 10), "the delivery never started"
    delivery_id = uuid.UUID(queued["delivery_id"])
    # A write to the row being sent goes through at once: nothing holds it locked.
    async with asyncio.timeout(3), transaction(vault_state.sessionmaker) as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(history=[{"note": "written while the delivery was in flight"}])
        )
        claimed_until = await session.scalar(
            select(WebhookDelivery.claimed_until).where(WebhookDelivery.id == delivery_id)
        )
    assert claimed_until is not None
    assert claimed_until > utcnow()
    async with transaction(vault_state.sessionmaker) as session:
        again = await WebhookRepository(session).claim_due(lease=SECOND, limit=10, row_locks=False)
    assert again.claimed == [], "a leased delivery was claimed twice"
    receiver.release.set()
    for _ in range(100):
        async with vault_state.sessionmaker() as session:
            settled = await session.get(WebhookDelivery, delivery_id)
        if settled is not None and settled.state != "pending":
            break
        await asyncio.sleep(0.05)
    assert settled is not None
    assert (settled.state, settled.attempts, settled.claimed_until) == ("succeeded", 1, None)
    assert [r.webhook_id for r in receiver.received] == [queued["event_id"]]
    assert settled.history[0] == {"note": "written while the delivery was in flight"}


async def test_a_lease_that_ran_out_is_taken_over_and_the_late_outcome_dropped(
    client: httpx.AsyncClient, vault_state: AppState, receiver: Receiver
) -> None:
    await vault_state.webhooks.stop()  # this test's claims are the only ones
    await subscribe(client, receiver, "credential.invalid")
    await _emit(vault_state, str(uuid.uuid4()))
    async with transaction(vault_state.sessionmaker) as session:
        repo = WebhookRepository(session)
        first = await repo.claim_due(lease=-SECOND, limit=10, row_locks=False)  # ran out
        second = await repo.claim_due(lease=30 * SECOND, limit=10, row_locks=False)
        assert not (await repo.claim_due(lease=30 * SECOND, limit=10, row_locks=False)).claimed
        ((taken, _, _),) = second.claimed
        assert taken.id == first.claimed[0][0].id
        assert await repo.leased(taken.id, first.until, lock=False) is None
        assert await repo.leased(taken.id, second.until, lock=False) is not None


def _replica(state: AppState, *, send_timeout: float) -> WebhookDispatcher:
    """Another replica's dispatcher, on the same database."""
    return WebhookDispatcher(
        sessionmaker=state.sessionmaker,
        envelope=state.webhooks.sender.envelope,
        http=state.webhooks.sender.http,
        settings=state.settings.model_copy(update={"webhook_timeout_seconds": send_timeout}),
        row_locks=state.webhooks.row_locks,
        loops=1,
    )


async def _emit(state: AppState, credential_id: str) -> str:
    async with transaction(state.sessionmaker) as session:
        data = {"credential_id": credential_id, "reason": "drift", "status": "invalid"}
        event = await emit(session, "credential.invalid", data)
        assert event is not None
        return event.id


async def _only_delivery(state: AppState) -> WebhookDelivery:
    async with state.sessionmaker() as session:
        return (await session.execute(select(WebhookDelivery))).scalar_one()


async def test_a_slow_secret_ends_the_attempt_within_the_send_limit(
    client: httpx.AsyncClient, vault_state: AppState, receiver: Receiver
) -> None:
    """The lease counts on the whole attempt ending within the send limit: opening the
    signing secret (a slow KMS) counts too, or another replica could take the delivery over
    while this one is still about to send it."""
    await vault_state.webhooks.stop()
    await subscribe(client, receiver, "credential.invalid")
    replica = _replica(vault_state, send_timeout=0.5)
    opened = replica.sender._signers_of

    async def slow_kms(*args: Any) -> Any:
        await asyncio.sleep(30)
        return await opened(*args)

    replica.sender._signers_of = slow_kms  # type: ignore[method-assign,assignment]
    await _emit(vault_state, str(uuid.uuid4()))
    async with asyncio.timeout(5):
        assert await replica.run_once() == 1
    delivery = await _only_delivery(vault_state)
    assert (delivery.state, delivery.attempts, delivery.claimed_until) == ("pending", 1, None)
    assert delivery.history[-1]["error"] == "timeout"
    assert receiver.received == []


async def test_an_outcome_is_settled_only_while_no_other_replica_can_claim_it(
    client: httpx.AsyncClient,
    vault_state: AppState,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replica settling an outcome holds the delivery's row: even if its lease runs out
    meanwhile, another replica's claim skips the row instead of sending the event again, and
    the credential's next event waits behind it."""
    if not vault_state.webhooks.row_locks:
        pytest.skip("SQLite serves one process: there is no other replica")
    await vault_state.webhooks.stop()
    monkeypatch.setattr(dispatcher, "LEASE_MARGIN", timedelta(0))  # lease = the send limit
    await subscribe(client, receiver, "credential.invalid")
    a, b = (_replica(vault_state, send_timeout=0.5) for _ in range(2))
    credential = str(uuid.uuid4())
    first, second = await _emit(vault_state, credential), await _emit(vault_state, credential)
    settling, go_on = asyncio.Event(), asyncio.Event()
    endpoint_of = WebhookRepository.endpoint_of

    async def slow_settle(self: WebhookRepository, delivery: WebhookDelivery) -> Any:
        settling.set()  # A holds the row it checked: its lease runs out meanwhile
        await go_on.wait()
        return await endpoint_of(self, delivery)

    monkeypatch.setattr(WebhookRepository, "endpoint_of", slow_settle)
    settled_by_a = asyncio.create_task(a.run_once())
    await settling.wait()
    await asyncio.sleep(0.8)  # past A's lease
    monkeypatch.setattr(WebhookRepository, "endpoint_of", endpoint_of)
    assert await b.run_once() == 0, "another replica claimed a delivery being settled"
    go_on.set()
    assert await settled_by_a == 1
    assert await b.run_once() == 1  # now the credential's next event
    assert [r.webhook_id for r in receiver.received] == [first, second]


async def test_an_operator_retry_during_a_send_is_kept(
    client: httpx.AsyncClient, vault_state: AppState, receiver: Receiver
) -> None:
    await vault_state.webhooks.stop()
    hook = await subscribe(client, receiver, "credential.invalid")
    replica = _replica(vault_state, send_timeout=5)
    await _emit(vault_state, str(uuid.uuid4()))
    async with transaction(vault_state.sessionmaker) as session:  # failing for a while
        await session.execute(update(WebhookDelivery).values(attempts=7))
    receiver.fail_next(1)
    receiver.hold_next()
    sending = asyncio.create_task(replica.run_once())
    assert await asyncio.to_thread(receiver.held.wait, 5), "the delivery never started"
    delivery = await _only_delivery(vault_state)
    path = f"/v1/webhooks/{hook['id']}/deliveries/{delivery.id}/retry"
    assert (await client.post(path)).status_code == 202
    receiver.release.set()
    assert await sending == 1
    after = await _only_delivery(vault_state)
    assert (after.state, after.attempts) == ("pending", 8)  # the failed attempt is recorded
    assert after.next_attempt_at <= utcnow(), "the operator's retry was pushed back"
    assert await replica.run_once() == 1  # and it goes out again at once
    assert (await _only_delivery(vault_state)).state == "succeeded"
