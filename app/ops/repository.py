"""SQL for the counts the database keeps current (``state_counts``, maintained by triggers)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ops.metrics import DatabaseSnapshot
from app.ops.models import StateCount


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
