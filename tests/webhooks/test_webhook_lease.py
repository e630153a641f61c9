"""A delivery is leased while it is sent: no transaction stays open during the outbound call,
no other claim takes it before its lease ends, and an outcome whose lease was taken over is
not recorded over the new sender's."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from app.db import transaction, utcnow
from app.state import AppState
from app.webhooks.events import emit
from app.webhooks.models import WebhookDelivery
from app.webhooks.repository import WebhookRepository
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver


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
        again = await WebhookRepository(session).claim_due(
            utcnow(), lease_until=utcnow(), limit=10, skip_locked=False
        )
    assert again == [], "a leased delivery was claimed twice"
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
    await subscribe(client, receiver, "credential.invalid")
    # Due an hour from now, so the running dispatcher leaves it to this test's claims.
    later = utcnow() + timedelta(hours=1)
    async with transaction(vault_state.sessionmaker) as session:
        data = {"credential_id": str(uuid.uuid4()), "reason": "drift", "status": "invalid"}
        event = await emit(session, "credential.invalid", data)
        assert event is not None
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.event_seq == event.seq)
            .values(next_attempt_at=later)
        )
    first_lease = later + timedelta(seconds=1)
    second_lease = later + timedelta(seconds=30)
    async with transaction(vault_state.sessionmaker) as session:
        repo = WebhookRepository(session)
        ((first, _, _),) = await repo.claim_due(
            later, lease_until=first_lease, limit=10, skip_locked=False
        )
        assert (
            await repo.claim_due(later, lease_until=second_lease, limit=10, skip_locked=False) == []
        )
        after_lease = first_lease + timedelta(milliseconds=1)
        ((taken, _, _),) = await repo.claim_due(
            after_lease, lease_until=second_lease, limit=10, skip_locked=False
        )
        assert taken.id == first.id
        assert await repo.leased(first.id, first_lease) is None
        assert await repo.leased(first.id, second_lease) is not None
