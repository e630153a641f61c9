"""Checking the audit chain: every event's hash, every link, and the head."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import event_hash, fields_of
from app.audit.models import GENESIS_HASH
from app.audit.repository import AuditRepository


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    first_break: int | None = None  # id of the first event that does not check out
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def verify_chain(session: AsyncSession) -> ChainReport:
    repo = AuditRepository(session)
    # The head first: events appended while this runs lie beyond it and are left for the next
    # check (appends are serialized by the head's lock and numbered in chain order).
    head = await repo.head()
    prev, count = GENESIS_HASH, 0
    async for event in repo.in_order():
        if count == head.events:
            break
        count += 1
        if event.prev_hash != prev:
            return ChainReport(
                count,
                event.id,
                f"event {event.id} does not follow its predecessor: "
                "an event before it was removed or the chain was re-ordered",
            )
        if event_hash(prev, fields_of(event)) != event.hash:
            return ChainReport(count, event.id, f"event {event.id} was edited after it was written")
        prev = event.hash
    if head.last_hash != prev or head.events != count:
        return ChainReport(
            count,
            None,
            f"the newest events were removed: the chain head records {head.events} "
            f"events, {count} are present",
        )
    return ChainReport(count)
