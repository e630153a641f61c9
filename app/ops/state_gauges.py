"""Reading the database-held state that metrics and readiness report."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.credentials.models import Credential
from app.crypto import Envelope
from app.db import utcnow
from app.ops.metrics import REFRESH_WINDOWS, DatabaseSnapshot
from app.ops.models import StateCount


async def database_gauges(session: AsyncSession, envelope: Envelope) -> DatabaseSnapshot:
    """Live credentials by status and data keys by KEK, as the database's triggers keep them
    (``app.ops.models``): a few rows, however many credentials there are."""
    rows = await session.execute(
        select(StateCount.kind, StateCount.label, StateCount.count).where(StateCount.count != 0)
    )
    by_status: dict[str, int] = {}
    by_kek: dict[tuple[str, str, bool], int] = {}
    active = envelope.active_kek
    for kind, label, count in rows:
        if kind == "credentials":
            by_status[label] = count
        else:
            provider, _, key_id = label.partition("$")
            by_kek[(provider, key_id, (provider, key_id) == active)] = count
    return by_status, by_kek


async def refresh_expiring(session: AsyncSession) -> dict[str, int]:
    """Live App Store credentials whose refresh token ends within each window."""
    now = utcnow()
    counts = {}
    for days in REFRESH_WINDOWS:
        query = select(func.count()).where(
            Credential.deleted_at.is_(None),
            Credential.refresh_expires_at < now + timedelta(days=days),
        )
        counts[f"{days}d"] = (await session.execute(query)).scalar_one()
    return counts
