"""``refresh_token.expiring``: an App Store connection's refresh token nears its end (Walmart
gives it a fixed lifetime), so the seller must connect again before it does; said 30 and
7 days ahead, once each.

Every replica looks every ``interval`` seconds; there is no lock because there is no race to
lose: the notice row and the event are written in one transaction, and the notice's primary
key (credential, expiry, threshold) lets only one replica's transaction commit.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.background import PeriodicTask
from app.credentials.models import RefreshExpiryNotice
from app.credentials.repository import CredentialRepository
from app.credentials.repository.refresh_expiry import RefreshExpiryRepository
from app.db import transaction, utcnow
from app.webhooks.events import credential_data, emit

log = logging.getLogger("vault.jobs.refresh_expiry")
THRESHOLDS_DAYS = (30, 7)


@dataclass
class RefreshExpiryWatcher:
    sessionmaker: async_sessionmaker[AsyncSession]
    interval: float

    def __post_init__(self) -> None:
        self._job = PeriodicTask(
            "refresh-expiry",
            self.run_once,
            interval=self.interval,
            log=log,
            log_as="refresh expiry pass",
            run_at_start=True,
        )

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()

    async def run_once(self) -> int:
        """Announce every expiry that crossed a threshold since the last pass; how many."""
        now = utcnow()
        async with self.sessionmaker() as session:
            due = await RefreshExpiryRepository(session).expiring_unannounced(now, THRESHOLDS_DAYS)
        sent = 0
        for credential_id in due:
            try:
                async with transaction(self.sessionmaker) as session:
                    sent += await self._announce(session, credential_id)
            except IntegrityError:
                continue  # another replica announced it first
        return sent

    async def _announce(self, session: AsyncSession, credential_id: uuid.UUID) -> int:
        credential = await CredentialRepository(session).get_live(credential_id)
        if credential is None or credential.refresh_expires_at is None:
            return 0
        expiry = credential.refresh_expires_at
        left = expiry - utcnow()
        crossed = [d for d in THRESHOLDS_DAYS if left <= timedelta(days=d)]
        repo = RefreshExpiryRepository(session)
        fresh = [d for d in crossed if not await repo.notice_sent(credential.id, expiry, d)]
        if not fresh:
            return 0
        # The most urgent threshold speaks; the wider ones it passed are marked as said.
        await repo.add_notices(
            RefreshExpiryNotice(credential_id=credential.id, expires_at=expiry, days=d)
            for d in fresh
        )
        data = credential_data(
            credential,
            days_left=max(0, math.floor(left.total_seconds() / 86400)),
            expires_at=expiry.isoformat(),
        )
        await emit(session, "refresh_token.expiring", data)
        return 1
