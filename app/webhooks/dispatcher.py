"""Delivering the outbox: at least once, in order per credential, one replica per attempt.

Each loop leases a batch of due deliveries (``WebhookRepository.claim_due``) in one short
transaction, sends them with no transaction open and no connection held, then settles the
outcomes in a second short transaction. The lease (``claimed_until``) lasts the send timeout
plus ``LEASE_MARGIN``: no other replica claims a leased delivery, and if this one dies
mid-delivery the lease runs out and the next replica to poll takes the delivery over (the
receiver may then see the event twice, hence "at least once"; ``webhook-id`` lets it tell).
An outcome is settled only while its lease is still this loop's own. SQLite serves one
process, with one loop.

A failed attempt is retried after ``first_retry * 3^(n-1)`` seconds (at most 12 hours) until
the event is three days old; an endpoint failing for ``disable_after`` seconds is disabled,
with an audit event and a metric. Deliveries that ended (and events left without any) are
removed once older than ``VAULT_WEBHOOK_RETENTION_DAYS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.background import JITTER, PeriodicTask
from app.config import Settings
from app.crypto import Envelope
from app.db import DATABASE_UNAVAILABLE, transaction, utcnow
from app.errors import DatabaseUnavailable
from app.ops.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_DISABLED, WEBHOOK_FAILURES, WEBHOOK_LATENCY
from app.webhooks import events
from app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhooks.repository import WebhookRepository
from app.webhooks.sending import Outcome, Sender

log = logging.getLogger("vault.webhooks")

RETRY_WINDOW = timedelta(days=3)
MAX_DELAY_SECONDS = 12 * 3600.0
HISTORY_KEPT = 20
# Beyond the send's own time limit: settling, and a busy event loop, before the lease ends.
LEASE_MARGIN = timedelta(seconds=5)
PRUNE_EVERY_SECONDS = 3600.0


def retry_delay(attempts: int, first: float) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, jittered downwards only, so the
    first retry never comes later than ``first``."""
    delay: float = min(first * 3.0 ** (attempts - 1), MAX_DELAY_SECONDS)
    return delay * JITTER.uniform(0.8, 1.0)


class WebhookDispatcher:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        envelope: Envelope,
        http: httpx.AsyncClient,
        settings: Settings,
        row_locks: bool,
        loops: int,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.row_locks = row_locks  # PostgreSQL: claims skip locked rows, settles lock them
        self.loops = loops
        self.sender = Sender(envelope, http, settings)
        self._pruned_at = float("-inf")
        self._loops = [
            PeriodicTask(
                f"webhooks-{n}",
                functools.partial(self._pass, n),
                interval=settings.webhook_poll_seconds,
                log=log,
                log_as="webhook dispatch",
                run_at_start=True,
                again_if_busy=True,
            )
            for n in range(loops)
        ]

    def start(self) -> None:
        events.add_waker(self.wake)
        for loop in self._loops:
            loop.start()

    def wake(self) -> None:
        for loop in self._loops:
            loop.wake()

    async def stop(self) -> None:
        events.remove_waker(self.wake)
        for loop in self._loops:
            await loop.stop()

    async def _pass(self, number: int) -> int:
        """Loop ``number``'s pass: the batch it handled (the first loop also prunes, hourly)."""
        if number == 0 and time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
            await self.prune()
            self._pruned_at = time.monotonic()
        return await self.run_once()

    async def prune(self) -> int:
        """Remove ended deliveries, and events without deliveries, past the retention."""
        cutoff = utcnow() - timedelta(days=self.settings.webhook_retention_days)
        async with transaction(self.sessionmaker) as session:
            return await WebhookRepository(session).prune(before=cutoff)

    async def run_once(self) -> int:
        """Lease, send and settle one batch; the number of deliveries attempted."""
        limit = timedelta(seconds=self.settings.webhook_timeout_seconds)
        async with transaction(self.sessionmaker) as session:
            lease = await WebhookRepository(session).claim_due(
                lease=limit + LEASE_MARGIN,
                limit=self.settings.webhook_batch_size,
                row_locks=self.row_locks,
            )
        if not lease.claimed:
            return 0
        # Each send ends, its secret opened and the receiver answered or not, within the limit
        # from now (the claim's commit): well before the lease, which began at the claim.
        deadline = asyncio.get_running_loop().time() + limit.total_seconds()
        try:
            sent = await asyncio.gather(
                *(
                    self.sender.send(event, endpoint, deadline)
                    for _, event, endpoint in lease.claimed
                ),
                return_exceptions=True,  # one send's bug must not cost the others' outcomes
            )
        except asyncio.CancelledError:  # stopping: other replicas need not wait for the lease
            with contextlib.suppress(DatabaseUnavailable, *DATABASE_UNAVAILABLE):
                async with transaction(self.sessionmaker) as session:
                    ids = [delivery.id for delivery, _, _ in lease.claimed]
                    await WebhookRepository(session).release(ids, lease.until)
            raise
        outcomes = [_outcome(result) for result in sent]
        async with transaction(self.sessionmaker) as session:
            repo = WebhookRepository(session)
            for (delivery, event, _), outcome in zip(lease.claimed, outcomes, strict=True):
                current = await repo.leased(delivery.id, lease.until, lock=self.row_locks)
                endpoint = await repo.endpoint_of(current) if current is not None else None
                if current is None or endpoint is None:
                    # Deleted meanwhile, or the lease ran out and another replica took it.
                    log.warning("webhook outcome dropped", extra={"event_id": event.id})
                    continue
                # An operator's "retry" during the send moved the due time: honour it.
                retried = current.next_attempt_at != delivery.next_attempt_at
                await self._settle(session, current, event, endpoint, outcome, retried=retried)
            await repo.flush()
        return len(lease.claimed)

    async def _settle(
        self,
        session: AsyncSession,
        delivery: WebhookDelivery,
        event: WebhookEvent,
        endpoint: WebhookEndpoint,
        outcome: Outcome,
        *,
        retried: bool,
    ) -> None:
        """Record the attempt. A delivery an operator asked to retry while it was being sent
        stays pending and due when they asked, whatever this attempt's outcome."""
        delivery.attempts += 1
        delivery.claimed_until = None
        entry = {
            "at": outcome.at.isoformat(),
            "status_code": outcome.status_code,
            "latency_ms": outcome.latency_ms,
            "error": outcome.error,
        }
        delivery.history = [*delivery.history, entry][-HISTORY_KEPT:]
        now = utcnow()
        if outcome.ok:
            WEBHOOK_ATTEMPTS.labels("success").inc()
            WEBHOOK_LATENCY.observe((now - event.created_at).total_seconds())
            delivery.delivered_at = now
            if not retried:
                delivery.state = "succeeded"
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
            return
        WEBHOOK_ATTEMPTS.labels("failure").inc()
        WEBHOOK_FAILURES.labels(str(endpoint.id)).inc()
        log.warning(
            "webhook delivery failed",
            extra={
                "endpoint_id": str(endpoint.id),
                "event_id": event.id,
                "attempt": delivery.attempts,
                "status_code": outcome.status_code,
                "error": outcome.error,
            },
        )
        retry_at = now + timedelta(
            seconds=retry_delay(delivery.attempts, self.settings.webhook_first_retry_seconds)
        )
        if not retried:  # else it is due when the operator asked
            if retry_at > event.created_at + RETRY_WINDOW:
                delivery.state = "failed"
            else:
                delivery.next_attempt_at = retry_at
        if endpoint.failing_since is None:
            endpoint.failing_since = outcome.at
        failing_for = (now - endpoint.failing_since).total_seconds()
        if endpoint.enabled and failing_for >= self.settings.webhook_disable_after_seconds:
            self._disable(session, endpoint, failing_for)

    def _disable(
        self, session: AsyncSession, endpoint: WebhookEndpoint, failing_for: float
    ) -> None:
        endpoint.enabled = False
        endpoint.disabled_reason = f"every delivery failed for {round(failing_for)} s"
        endpoint.updated_at = utcnow()
        WEBHOOK_DISABLED.labels(str(endpoint.id)).inc()
        log.warning("webhook endpoint disabled", extra={"endpoint_id": str(endpoint.id)})
        record(
            session,
            action="webhook.disabled",
            caller=None,
            outcome="failing",
            details={"endpoint_id": str(endpoint.id), "failing_seconds": round(failing_for)},
        )


def _outcome(result: Outcome | BaseException) -> Outcome:
    """A send's outcome; one that raised (a bug, or an error no handler expected) is a failed
    attempt like any other, retried and counted against its endpoint."""
    if isinstance(result, Outcome):
        return result
    log.error("webhook send failed unexpectedly", extra={"error": type(result).__name__})
    return Outcome(utcnow(), None, 0.0, f"error:{type(result).__name__}")
