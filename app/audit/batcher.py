"""Batched audit of issued headers: off the hot path, at most ``audit_flush_seconds`` late.

Header requests append to an in-memory buffer; a background task writes it in one transaction
once it holds ``FLUSH_AT`` events or its oldest event nears the interval, and the lifespan
flushes what is left on shutdown. If the database is briefly unavailable, the batch is kept and
retried an interval later (bounded, so a long outage cannot exhaust memory; what is dropped is
counted and logged).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.chain import PreparedEvent, prepare
from app.audit.repository import AuditRepository
from app.background import PeriodicTask
from app.db import transaction, utcnow
from app.errors import DatabaseUnavailable

log = logging.getLogger("vault.audit")

MAX_PENDING = 100_000
# Small frequent batches: a big one would hold the event loop (linking hashes, encoding one
# large insert) long enough to show in every request's tail latency.
FLUSH_AT = 200
# One transaction's most: under a burst the buffer outgrows FLUSH_AT while a flush waits on the
# chain's lock. Much larger batches raised the tail latency in the benchmark without shortening
# the backlog, which the disk's commit latency bounds. (Events are
# prepared when they happen, see ``chain``: a flush only links and encodes them.)
MAX_BATCH = 500
TICK_SECONDS = 0.05


class AuditBatcher:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, interval: float) -> None:
        self.sessionmaker = sessionmaker
        self.interval = interval
        self._pending: list[PreparedEvent] = []
        self._oldest = 0.0  # monotonic time of the oldest pending event
        self._retry_at = 0.0  # after a failed write, none is tried before this (monotonic)
        # Not interrupted on stop: a cancel could land inside a flush and lose its batch.
        self._ticker = PeriodicTask(
            "audit-batcher",
            self._tick,
            interval=TICK_SECONDS,
            log=log,
            log_as="audit tick",
            interrupt=False,
        )
        # One flush at a time per worker, so batches reach the chain in the order they were
        # issued and an explicit flush (shutdown, tests) waits for the one in progress.
        self._flushing = asyncio.Lock()
        self.dropped = 0

    def add(
        self,
        *,
        action: str,
        client_id: uuid.UUID | None,
        request_id: str | None,
        account_id: str,
        credential_id: uuid.UUID,
        version: int,
        details: dict[str, Any],
    ) -> None:
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        if not self._pending:
            self._oldest = time.monotonic()
        # Prepared now, in the request that issued the headers, not in the flush: see chain.
        self._pending.append(
            prepare(
                {
                    "at": utcnow(),
                    "action": action,
                    "outcome": "success",
                    "client_id": client_id,
                    "request_id": request_id,
                    "account_id": account_id,
                    "credential_id": credential_id,
                    "version": version,
                    "details": details,
                }
            )
        )

    def start(self) -> None:
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()
        await self.flush()

    async def _tick(self) -> None:
        # Events that arrive while a batch is written wait for their own trigger: writing
        # them at once (as ``flush`` does) made every batch only as large as one transaction's
        # round trips let in, and with sellers read from the database the workers wrote a
        # transaction per dozen answers (``python -m tests.bench``). A backlog still drains.
        if not self._ready():
            return
        async with self._flushing:
            while self._ready():
                if not await self._write_batch():
                    return

    def _ready(self) -> bool:
        now = time.monotonic()
        due = now - self._oldest >= self.interval - 2 * TICK_SECONDS
        full = len(self._pending) >= FLUSH_AT
        return bool(self._pending) and (full or due) and now >= self._retry_at

    async def flush(self) -> None:
        """Write everything pending now (shutdown, tests)."""
        async with self._flushing:
            while self._pending and await self._write_batch():
                pass

    async def _write_batch(self) -> bool:
        """Write the oldest ``MAX_BATCH`` events in one transaction; False if it failed and
        they were put back."""
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        try:
            async with transaction(self.sessionmaker) as session:
                await AuditRepository(session).append(batch)
        except Exception as exc:  # kept, whatever failed: an audit event is never lost
            reason = "unavailable" if isinstance(exc, DatabaseUnavailable) else "failed"
            log.warning(
                "audit batch of %d deferred: database %s (%s)",
                len(batch),
                reason,
                type(exc).__name__,
            )
            self._pending = batch + self._pending
            self._retry_at = time.monotonic() + self.interval  # not every tick, full or not
            if self.dropped:
                log.error("audit events dropped while the database was away: %d", self.dropped)
            return False
        # A rest keeps ``_oldest``, older than its own oldest event: never written later
        # than the interval allows, and at once when that was already due.
        return True
