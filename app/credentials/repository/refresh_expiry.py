"""SQL for App Store refresh tokens nearing their end: how many, which are due a
``refresh_token.expiring`` announcement, and which announcements went out
(``RefreshExpiryNotice``). Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.credentials.models import Credential, RefreshExpiryNotice
from app.db import utcnow


class RefreshExpiryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def expiring_counts(self, windows_days: Iterable[int]) -> dict[str, int]:
        """Live App Store credentials whose refresh token ends within each window."""
        now = utcnow()
        counts = {}
        for days in windows_days:
            query = select(func.count()).where(
                Credential.deleted_at.is_(None),
                Credential.refresh_expires_at < now + timedelta(days=days),
            )
            counts[f"{days}d"] = (await self.session.execute(query)).scalar_one()
        return counts

    async def expiring_unannounced(
        self, now: datetime, thresholds_days: Sequence[int]
    ) -> Sequence[uuid.UUID]:
        """Live credentials whose refresh token ends within a threshold not yet announced for
        that expiry (the narrowest threshold it is within)."""
        narrowest = case(
            *(
                (Credential.refresh_expires_at <= now + timedelta(days=d), literal(d))
                for d in sorted(thresholds_days)
            ),
            else_=literal(-1),
        )
        announced = exists().where(
            and_(
                RefreshExpiryNotice.credential_id == Credential.id,
                RefreshExpiryNotice.expires_at == Credential.refresh_expires_at,
                RefreshExpiryNotice.days == narrowest,
            )
        )
        rows = await self.session.execute(
            select(Credential.id).where(
                Credential.deleted_at.is_(None),
                Credential.refresh_expires_at > now,
                Credential.refresh_expires_at <= now + timedelta(days=max(thresholds_days)),
                ~announced,
            )
        )
        return rows.scalars().all()

    async def notice_sent(self, credential_id: uuid.UUID, expires_at: datetime, days: int) -> bool:
        found = await self.session.get(RefreshExpiryNotice, (credential_id, expires_at, days))
        return found is not None

    async def add_notices(self, notices: Iterable[RefreshExpiryNotice]) -> None:
        self.session.add_all(list(notices))
        await self.session.flush()
