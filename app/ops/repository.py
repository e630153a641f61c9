"""SQL of operations: the readiness probe's round trip, the counts the database keeps current
(``state_counts``, maintained by triggers) and each KEK's wrap count. Flushes, never commits."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import utcnow
from app.ops.metrics import DatabaseSnapshot
from app.ops.models import KekWraps, StateCount


async def database_answers(engine: AsyncEngine) -> None:
    """One round trip on a connection of the pool; raises if the database does not answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def database_gauges(session: AsyncSession, active_kek: tuple[str, str]) -> DatabaseSnapshot:
    """Live credentials by status and data keys by KEK, as the database's triggers keep them
    (``app.ops.models``): a few rows, however many credentials there are."""
    rows = await session.execute(
        select(StateCount.kind, StateCount.label, StateCount.count).where(StateCount.count != 0)
    )
    by_status: dict[str, int] = {}
    by_kek: dict[tuple[str, str, bool], int] = {}
    for kind, label, count in rows:
        if kind == "credentials":
            by_status[label] = count
        else:
            provider, _, key_id = label.partition("$")
            by_kek[(provider, key_id, (provider, key_id) == active_kek)] = count
    return by_status, by_kek


class KekWrapsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, counts: Counter[tuple[str, str]]) -> None:
        """Add ``counts`` to the stored totals, atomically against other replicas."""
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        now = utcnow()
        for (provider, key_id), count in sorted(counts.items()):
            insert = dialect.insert(KekWraps).values(
                provider=provider, key_id=key_id, wraps=count, updated_at=now
            )
            await self.session.execute(
                insert.on_conflict_do_update(
                    index_elements=["provider", "key_id"],
                    set_={"wraps": KekWraps.wraps + insert.excluded.wraps, "updated_at": now},
                )
            )

    async def totals(self) -> dict[tuple[str, str], int]:
        rows = await self.session.execute(
            select(KekWraps.provider, KekWraps.key_id, KekWraps.wraps)
        )
        return {(provider, key_id): wraps for provider, key_id, wraps in rows}
