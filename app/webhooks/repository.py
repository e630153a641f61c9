"""SQL of webhooks: endpoints, the outbox, and the dispatcher's claim. Only flushes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db import utcnow
from app.keys.repository import SealedColumn, not_on
from app.pagination import by_time_id
from app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

Claimed = tuple[WebhookDelivery, WebhookEvent, WebhookEndpoint]


@dataclass(frozen=True, slots=True)
class Lease:
    claimed: list[Claimed]
    until: datetime  # on the database's clock


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def flush(self) -> None:
        await self.session.flush()

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self.session.add(endpoint)
        await self.session.flush()

    async def get_endpoint(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        return await self.session.get(WebhookEndpoint, endpoint_id)

    async def delete_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self.session.delete(endpoint)
        await self.session.flush()

    async def secrets_not_on(
        self, column: SealedColumn, prefix: str, limit: int
    ) -> Sequence[WebhookEndpoint]:
        """Endpoints whose secret in ``column`` (current or previous) is not on the KEK
        ``prefix`` names, locked for a rewrap batch (another replica's batch skips them)."""
        query = (
            select(WebhookEndpoint)
            .where(column.is_not(None), not_on(column, prefix))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(query)).scalars().all()

    async def enabled_endpoints(self) -> Sequence[WebhookEndpoint]:
        rows = await self.session.execute(
            select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
        )
        return rows.scalars().all()

    async def page_endpoints(
        self, *, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[WebhookEndpoint]:
        query = by_time_id(
            select(WebhookEndpoint),
            WebhookEndpoint.created_at,
            WebhookEndpoint.id,
            limit=limit,
            after=after,
            newest_first=False,  # endpoints list oldest first, as they always have
        )
        return (await self.session.execute(query)).scalars().all()

    async def add_event(self, event: WebhookEvent) -> None:
        self.session.add(event)
        await self.session.flush()  # assigns ``seq``

    async def add_deliveries(self, deliveries: Iterable[WebhookDelivery]) -> None:
        self.session.add_all(list(deliveries))
        await self.session.flush()

    async def deliveries_page(
        self, endpoint_id: uuid.UUID, *, limit: int, before_seq: int | None
    ) -> Sequence[tuple[WebhookDelivery, WebhookEvent]]:
        """Newest first, with their events."""
        query = (
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.seq == WebhookDelivery.event_seq)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        if before_seq is not None:
            query = query.where(WebhookDelivery.event_seq < before_seq)
        query = query.order_by(WebhookDelivery.event_seq.desc()).limit(limit + 1)
        return [(d, e) for d, e in (await self.session.execute(query)).all()]

    async def delivery(
        self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, *, for_update: bool = False
    ) -> WebhookDelivery | None:
        """``for_update``: locked and read afresh, so a dispatcher settling it meanwhile has
        committed its outcome first (and the caller's write comes after, whole)."""
        found = await self.session.get(
            WebhookDelivery, delivery_id, with_for_update=for_update, populate_existing=for_update
        )
        return found if found is not None and found.endpoint_id == endpoint_id else None

    async def event(self, seq: int) -> WebhookEvent:
        found = await self.session.get(WebhookEvent, seq)
        assert found is not None  # noqa: S101  (a delivery's event is deleted only with it)
        return found

    async def delivery_of(self, event_seq: int, endpoint_id: uuid.UUID) -> WebhookDelivery:
        found = await self.session.execute(
            select(WebhookDelivery).where(
                WebhookDelivery.event_seq == event_seq, WebhookDelivery.endpoint_id == endpoint_id
            )
        )
        return found.scalar_one()

    async def claim_due(self, *, lease: timedelta, limit: int, row_locks: bool) -> Lease:
        """Lease the pending deliveries that are due, unleased, and first in line for their
        credential at their endpoint, oldest first. Leases are set and compared on the
        database's clock (PostgreSQL's ``now()``), so replicas whose clocks differ agree on
        when one ends. With ``row_locks`` (PostgreSQL) ``SKIP LOCKED`` lets replicas claiming at
        the same moment take different rows."""
        now = await self._database_now()
        earlier = aliased(WebhookDelivery)
        waiting_behind = exists().where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.ordering_key == WebhookDelivery.ordering_key,
            earlier.state == "pending",
            earlier.event_seq < WebhookDelivery.event_seq,
        )
        query = (
            select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
            .join(WebhookEvent, WebhookEvent.seq == WebhookDelivery.event_seq)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.state == "pending",
                # Due times are written on the app's clock, leases on the database's.
                WebhookDelivery.next_attempt_at <= utcnow(),
                or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until <= now),
                WebhookEndpoint.enabled.is_(True),
                ~waiting_behind,
            )
            .order_by(WebhookDelivery.event_seq)
            .limit(limit)
        )
        if row_locks:
            query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
        claimed = [(d, e, p) for d, e, p in (await self.session.execute(query)).all()]
        until = now + lease
        for delivery, _, _ in claimed:
            delivery.claimed_until = until
        await self.session.flush()
        return Lease(claimed, until)

    async def _database_now(self) -> datetime:
        if self.session.get_bind().dialect.name == "postgresql":
            now = await self.session.scalar(select(func.now()))
            assert isinstance(now, datetime)  # noqa: S101  (timestamptz)
            return now
        return utcnow()  # SQLite serves one process: its clock is the only one

    async def endpoint_of(self, delivery: WebhookDelivery) -> WebhookEndpoint | None:
        return await self.session.get(WebhookEndpoint, delivery.endpoint_id)

    async def leased(
        self, delivery_id: uuid.UUID, lease_until: datetime, *, lock: bool
    ) -> WebhookDelivery | None:
        """The delivery, if it is still pending under this lease (not deleted, not taken over
        by another replica after the lease ran out). With ``lock`` (PostgreSQL) the row stays
        locked until the caller commits, so no claim can take it between this check and the
        caller's write: a claim skips locked rows."""
        found = await self.session.get(
            WebhookDelivery, delivery_id, populate_existing=True, with_for_update=lock
        )
        if found is None or found.state != "pending" or found.claimed_until != lease_until:
            return None
        return found

    async def release(self, ids: list[uuid.UUID], lease_until: datetime) -> None:
        """End this lease on these deliveries at once (their sends were cancelled)."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), WebhookDelivery.claimed_until == lease_until)
            .values(claimed_until=None)
        )

    async def pending_count(self) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.state == "pending")
        )
        return int(count or 0)

    async def prune(self, *, before: datetime) -> int:
        """Delete deliveries that ended before ``before`` and the events left without any;
        how many deliveries went."""
        gone = await self.session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.state != "pending", WebhookDelivery.created_at < before
            )
        )
        await self.session.execute(
            delete(WebhookEvent).where(
                WebhookEvent.created_at < before,
                ~exists().where(WebhookDelivery.event_seq == WebhookEvent.seq),
            )
        )
        return int(gone.rowcount or 0)  # type: ignore[attr-defined]
