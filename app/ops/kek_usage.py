"""How many data keys each KEK has wrapped, ever, across replicas and restarts.

A local KEK (and a Transit aes256-gcm96 key) wraps each data key with AES-GCM and a random
96-bit nonce; NIST SP 800-38D bounds one key to 2^32 such encryptions. Every token refresh
seals a new data key, so at 100,000 OAuth credentials one KEK reaches that bound in about 13
months. The envelope counts its wraps in memory; ``WrapRecorder`` adds them to ``kek_wraps``
every ``FLUSH_SECONDS`` and at shutdown (a crash loses at most that much counting, which the
warning's margin absorbs), and logs ``kek.wraps_high`` once a KEK passes ``WRAP_WARNING``,
a quarter of the bound: time to rotate the KEK (README, "Rotate the KEK").
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.background import PeriodicTask
from app.crypto import Envelope
from app.db import transaction
from app.ops.repository import KekWrapsRepository

WRAP_LIMIT = 2**32
WRAP_WARNING = 2**30
FLUSH_SECONDS = 30.0
log = logging.getLogger("vault.kek")


class WrapRecorder:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], envelope: Envelope) -> None:
        self._sessionmaker = sessionmaker
        self._envelope = envelope
        self._warned: set[tuple[str, str]] = set()

    async def flush(self) -> None:
        counts = self._envelope.take_wrap_counts()
        if not counts:
            return
        try:
            async with transaction(self._sessionmaker) as session:
                repo = KekWrapsRepository(session)
                await repo.add(counts)
                totals = await repo.totals()
        except Exception:  # the database is away: keep counting, store them next time
            self._envelope.return_wrap_counts(counts)
            log.warning("kek wrap counts not stored; kept for the next attempt")
            return
        for kek, wraps in totals.items():
            if wraps >= WRAP_WARNING and kek in counts and kek not in self._warned:
                self._warned.add(kek)
                log.warning(
                    "kek.wraps_high: rotate this KEK",
                    extra={
                        "provider": kek[0],
                        "key_id": kek[1],
                        "wraps": wraps,
                        "limit": WRAP_LIMIT,
                    },
                )

    @contextlib.asynccontextmanager
    async def running(self, interval: float = FLUSH_SECONDS) -> AsyncIterator[None]:
        """Flush every ``interval`` seconds while the block runs, and once at its end."""
        # Not interrupted on stop: a cancel inside a flush would lose the counts it had taken.
        flusher = PeriodicTask(
            "kek-wrap-recorder",
            self.flush,
            interval=interval,
            log=log,
            log_as="kek wrap count flush",
            interrupt=False,
        )
        flusher.start()
        try:
            yield
        finally:
            await flusher.stop()
            await self.flush()
