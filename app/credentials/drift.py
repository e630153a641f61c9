"""Drift detection: re-test valid credentials on a schedule, because Walmart deactivates a
private key the moment a seller presses "Regenerate Key" and nobody tells the vault.

One replica at a time runs a pass (a PostgreSQL session advisory lock; SQLite has one
process). A pass tests every ``valid`` credential with bounded concurrency; a 429 pauses the
whole pass for Walmart's ``Retry-After`` and the credential is tried again once. Credentials
that now fail with ``invalid_credentials`` become ``invalid`` (list filter, metrics, audit).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import Caller
from app.background import PeriodicTask
from app.credentials.repository import CredentialRepository, job_lock
from app.credentials.testing import LiveTester
from app.errors import VaultError

log = logging.getLogger("vault.jobs.drift")

SCHEDULER = Caller(client_id=None, name="scheduler", scopes=frozenset({"admin"}), account_ids=None)
LOCK_KEY = 0x6D706F7274730001  # "mports" + job 1: one advisory lock id per job
MAX_PAUSE_SECONDS = 300.0


@dataclass
class DriftWatcher:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    tester: LiveTester
    interval: float
    concurrency: int

    def __post_init__(self) -> None:
        self._job: PeriodicTask | None = None
        self._resume = asyncio.Event()
        self._resume.set()

    def start(self) -> None:
        if self._job is not None and self._job.running:
            return
        # Jitter keeps replicas (and restarts) from testing everything at the same moment.
        # Built here, so ``interval`` is read when the job starts.
        self._job = PeriodicTask(
            "drift-watcher",
            self.run_once,
            interval=self.interval,
            log=log,
            log_as="drift pass",
            jitter=0.1,
        )
        self._job.start()

    async def stop(self) -> None:
        if self._job is not None:
            await self._job.stop()

    async def run_once(self) -> Counter[str]:
        """One pass over the valid credentials (skipped if another replica holds the lock)."""
        outcomes: Counter[str] = Counter()
        async with job_lock(self.engine, LOCK_KEY) as got:
            if got:
                await self._pass(outcomes)
            else:
                outcomes["skipped_locked"] += 1
        return outcomes

    async def _pass(self, outcomes: Counter[str]) -> None:
        started = time.perf_counter()
        async with self.sessionmaker() as session:
            ids = await CredentialRepository(session).live_ids(status="valid")
        gate = asyncio.Semaphore(self.concurrency)

        async def one(credential_id: uuid.UUID) -> None:
            async with gate:
                outcome = await self._test(credential_id)
                if outcome == "rate_limited":
                    outcome = await self._test(credential_id)
                outcomes[outcome] += 1

        await asyncio.gather(*(one(i) for i in ids))
        log.info(
            "drift pass",
            extra={
                "job": "drift",
                "tested": len(ids),
                "outcomes": dict(outcomes),
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    async def _test(self, credential_id: uuid.UUID) -> str:
        await self._resume.wait()
        try:
            result = await self.tester.check_stored(
                caller=SCHEDULER, credential_id=credential_id, trigger="schedule"
            )
        except VaultError as exc:  # deleted meanwhile, database away: skip, next pass retries
            return exc.code
        retry_after = result.details.get("retry_after") if not result.ok else None
        if result.outcome == "rate_limited":
            await self._pause(float(retry_after or 1.0))
        return result.outcome

    async def _pause(self, seconds: float) -> None:
        if not self._resume.is_set():
            return
        self._resume.clear()
        try:
            await asyncio.sleep(min(seconds, MAX_PAUSE_SECONDS))
        finally:
            self._resume.set()
