"""Reading the database-held state that metrics and readiness report."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.credentials.models import Credential
from app.crypto import Envelope
from app.db import utcnow
from app.ops.keks import kek_counts
from app.ops.metrics import REFRESH_WINDOWS, DatabaseSnapshot


async def database_gauges(session: AsyncSession, envelope: Envelope) -> DatabaseSnapshot:
    rows = await session.execute(
        select(Credential.status, func.count())
        .where(Credential.deleted_at.is_(None))
        .group_by(Credential.status)
    )
    by_status = {status: count for status, count in rows}
    active = envelope.active_kek
    by_kek = {
        (provider, key_id, (provider, key_id) == active): count
        for (provider, key_id), count in (await kek_counts(session)).items()
    }
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
