"""Which ``refresh_token.expiring`` announcements went out: one row per credential, expiry
and threshold, so each is made once only, whichever replica gets there first."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, Uuid, and_, case, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.credentials.models import Credential
from app.db import Base, UtcDateTime, utcnow


class RefreshExpiryNotice(Base):
    """That ``refresh_token.expiring`` went out for this credential, this expiry and this
    threshold: the primary key makes each notice once only, across replicas. A reconnection
    brings a new expiry, and with it new notices."""

    __tablename__ = "refresh_expiry_notices"

    credential_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("credentials.id", ondelete="CASCADE"), primary_key=True
    )
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ExpiryNoticeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
