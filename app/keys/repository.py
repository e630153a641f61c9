"""SQL over a column of sealed values, for the repositories of the tables that hold one.

The stored form names its KEK (``v1$provider$key_id$...``), so "which KEK" is read from the
value's header and "not on the active KEK" is a prefix comparison, with no side column to drift.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.crypto import Envelope

SealedColumn = InstrumentedAttribute[Any]


def not_on(column: SealedColumn, prefix: str) -> ColumnElement[bool]:
    """Values whose stored form does not start with ``prefix`` (another KEK)."""
    return func.substr(column, 1, len(prefix)) != prefix


async def count_by_kek(session: AsyncSession, column: SealedColumn) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    if session.get_bind().dialect.name == "postgresql":
        # The database groups by the stored form's header: no value leaves it, so a scrape
        # with many credentials neither takes seconds nor grows the worker.
        provider, key_id = func.split_part(column, "$", 2), func.split_part(column, "$", 3)
        grouped = await session.execute(
            select(provider, key_id, func.count())
            .where(column.is_not(None))
            .group_by(provider, key_id)
        )
        for name, kid, count in grouped:
            counts[(name, kid)] += count
        return counts
    rows = await session.stream_scalars(select(column).where(column.is_not(None)))
    async for sealed in rows:  # SQLite: the embedded, small-install case
        if sealed:
            counts[Envelope.kek_of(sealed)] += 1
    return counts


async def count_not_on(session: AsyncSession, column: SealedColumn, prefix: str) -> int:
    query = select(func.count()).where(column.is_not(None), not_on(column, prefix))
    count: int = (await session.execute(query)).scalar_one()
    return count
