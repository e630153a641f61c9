"""What the lifespan builds once per process: the composition root.

Only the entry points (``app.main``, ``app.cli``) import this module. Routers take what they
need from ``request.app.state.vault`` through small typed dependencies of their own package
(``app.credentials.deps``, ``app.ops.router.ProbeState``, ``app.auth.Authenticator``), so no
package below imports the one that builds them all.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audit.batcher import AuditBatcher
from app.changes import NOT_LISTENING, ChangeFeed, ChangeListener, announce_commits
from app.clients.directory import CallerDirectory
from app.config import Settings
from app.connections.callback import CallbackHandler
from app.connections.testing import AppConnectionTester
from app.connections.tokens import AppRefreshGrants
from app.credentials.drift import DriftWatcher
from app.credentials.refresh_expiry import RefreshExpiryWatcher
from app.credentials.repository.refresh_expiry import RefreshExpiryRepository
from app.credentials.rotation import rotation_policy
from app.credentials.testing import LiveTester
from app.crypto import Envelope
from app.db import ensure_sqlite_directory, is_sqlite, make_engine, make_sessionmaker
from app.headers.reader import AsyncpgReader, SessionReader, SnapshotReader
from app.headers.service import HeaderIssuer
from app.headers.snapshot import SnapshotCache
from app.intake.handover import Handover
from app.keys.keystore import KeyStore
from app.ops.kek_probe import KekProbe
from app.ops.metrics import (
    KEY_CACHE_MISSES,
    REFRESH_WINDOWS,
    DatabaseCollector,
    DatabaseSnapshot,
)
from app.ops.repository import KekWrapsRepository, database_gauges
from app.outbound import outbound_client
from app.pages.throttle import PageThrottle
from app.proxy.service import WalmartProxy
from app.single_flight import SingleFlight
from app.walmart.broker import TokenBroker
from app.walmart.client import WalmartClient
from app.webhooks.dispatcher import WebhookDispatcher
from app.webhooks.repository import WebhookRepository

log = logging.getLogger("vault.shutdown")

# Per worker, beside the engine's pool: the batched reads by id (``MAX_IN_FLIGHT`` statements
# at most) and reads by account slot, each a connection for one short indexed read.
READER_CONNECTIONS = 10


class _Service(Protocol):
    """A part with work of its own in the background, from ``start`` until ``stop``."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope
    issuer: HeaderIssuer
    tester: LiveTester
    audit: AuditBatcher
    drift: DriftWatcher
    metrics: DatabaseCollector
    callers: CallerDirectory
    webhooks: WebhookDispatcher
    callback: CallbackHandler
    proxy: WalmartProxy
    handover: Handover
    page_throttle: PageThrottle
    refresh_expiry: RefreshExpiryWatcher
    kek_probe: KekProbe = field(default_factory=KekProbe)
    database_probe: SingleFlight[bool] = field(default_factory=SingleFlight)

    async def database_gauges(self) -> DatabaseSnapshot:
        """Live credentials by status and sealed values by KEK (``/metrics``, ``/readyz``)."""
        async with self.sessionmaker() as session:
            return await database_gauges(session, self.envelope.active_kek)

    async def webhooks_pending(self) -> int:
        async with self.sessionmaker() as session:
            return await WebhookRepository(session).pending_count()

    async def kek_wraps(self) -> dict[tuple[str, str], int]:
        async with self.sessionmaker() as session:
            return await KekWrapsRepository(session).totals()

    async def refresh_expiring(self) -> dict[str, int]:
        async with self.sessionmaker() as session:
            return await RefreshExpiryRepository(session).expiring_counts(REFRESH_WINDOWS)


@asynccontextmanager
async def app_state(settings: Settings, envelope: Envelope) -> AsyncIterator[AppState]:
    """Engine, HTTP clients for Walmart, caches, the audit batcher and background jobs.

    Each part's stop is pushed as the part is built or started, so a start-up that fails
    half way (the reader's pool cannot open, a part's ``start`` raises) stops what it had
    already opened, and shutdown stops them last first. Every stop runs whatever an earlier
    one raised: a failed flush must not leave the pools open. Each failure is logged as it
    happens; only the last one is raised.
    """
    async with AsyncExitStack() as stopping:

        def on_stop(part: str, stop: Callable[[], Awaitable[object]]) -> None:
            stopping.push_async_callback(_logged_stop, part, stop)

        try:
            state = await _build(settings, envelope, on_stop)
        except BaseException:
            # The start-up's own error is the one the operator must read ("the vault cannot
            # start: ..."); a stop that fails on the way out is logged, not raised over it.
            with contextlib.suppress(Exception):
                await stopping.aclose()
            raise
        yield state


async def _build(
    settings: Settings,
    envelope: Envelope,
    on_stop: Callable[[str, Callable[[], Awaitable[object]]], None],
) -> AppState:
    ensure_sqlite_directory(settings.database_url)
    sqlite = is_sqlite(settings.database_url)
    engine = make_engine(settings.database_url, timeout_seconds=settings.database_timeout_seconds)
    on_stop("database engine", engine.dispose)
    sessionmaker = make_sessionmaker(engine)
    timeout = settings.walmart_timeout_seconds
    # Token fetches, live tests, callbacks and webhooks share one pool; proxied calls, whose
    # callers hold them open as long as their bodies stream, get their own.
    proxy_http = outbound_client(timeout=timeout, max_connections=settings.proxy_max_connections)
    on_stop("proxy HTTP client", proxy_http.aclose)
    http = outbound_client(timeout=timeout, max_connections=100)
    on_stop("HTTP client", http.aclose)
    walmart = WalmartClient(http, svc_name=settings.svc_name)
    reader: SnapshotReader = (
        SessionReader(sessionmaker)
        if sqlite
        else await AsyncpgReader.open(
            engine,
            max_connections=READER_CONNECTIONS,
            seconds=settings.database_timeout_seconds,
        )
    )
    on_stop("snapshot reader", reader.aclose)
    keystore = KeyStore(
        envelope, max_bytes=int(settings.key_cache_mb * 1_000_000), on_miss=KEY_CACHE_MISSES.inc
    )
    base_urls = {env: settings.walmart_base_url(env) for env in ("production", "sandbox")}
    broker = TokenBroker(
        sessionmaker,
        keystore,
        walmart,
        base_url_for=base_urls,
        refresh_margin=settings.token_refresh_margin_seconds,
        timeout=timeout,
        shared_locks=not sqlite,
        refresh_grants=AppRefreshGrants(sessionmaker, envelope, walmart, base_urls, timeout),
        max_tokens=settings.snapshot_cache_size,
    )
    audit = AuditBatcher(sessionmaker, interval=settings.audit_flush_seconds)

    def drop_secrets(credential_id: uuid.UUID) -> None:  # a recheck found a new version
        keystore.forget(credential_id)
        broker.forget(credential_id)

    feed = ChangeFeed()
    announce_commits(sessionmaker, feed)
    listener = (
        None
        if sqlite
        else ChangeListener(
            settings.database_url, feed=feed, max_staleness=settings.cache_max_staleness_seconds
        )
    )
    watch = listener or NOT_LISTENING
    issuer = HeaderIssuer(
        settings=settings,
        snapshots=SnapshotCache(
            reader,
            max_staleness=settings.cache_max_staleness_seconds,
            on_change=drop_secrets,
            max_entries=settings.snapshot_cache_size,
            watch=watch,
            outage_grace=settings.cache_outage_grace_seconds,
        ),
        keystore=keystore,
        broker=broker,
        audit=audit,
    )
    callers = CallerDirectory(
        sessionmaker,
        max_staleness=settings.cache_max_staleness_seconds,
        watch=watch,
        outage_grace=settings.cache_outage_grace_seconds,
    )
    feed.on("credential", issuer.forget)
    feed.on("client", callers.forget_client)
    tester = LiveTester(
        settings=settings,
        sessionmaker=sessionmaker,
        walmart=walmart,
        keystore=keystore,
        broker=broker,
        app_connections=AppConnectionTester(settings, sessionmaker, envelope, walmart, broker),
    )
    drift = DriftWatcher(
        engine=engine,
        sessionmaker=sessionmaker,
        tester=tester,
        interval=settings.retest_interval_seconds,
        concurrency=settings.retest_concurrency,
    )
    webhooks = WebhookDispatcher(
        sessionmaker=sessionmaker,
        envelope=envelope,
        http=http,
        settings=settings,
        row_locks=not sqlite,
        loops=1 if sqlite else 2,  # SQLite: one process, one claimer, no row locks
    )
    page_throttle = PageThrottle(
        per_link=settings.intake_submissions_per_link_per_minute,
        per_address=settings.intake_submissions_per_address_per_minute,
    )
    state = AppState(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        envelope=envelope,
        issuer=issuer,
        tester=tester,
        audit=audit,
        drift=drift,
        metrics=DatabaseCollector(),
        callers=callers,
        webhooks=webhooks,
        callback=CallbackHandler(
            sessionmaker, envelope, settings, walmart, tokens=broker, throttle=page_throttle
        ),
        proxy=WalmartProxy(issuer, proxy_http, sessionmaker),
        handover=Handover(
            sessionmaker=sessionmaker,
            envelope=envelope,
            tester=tester,
            policy=rotation_policy(settings),
            contact=settings.intake_contact,
        ),
        page_throttle=page_throttle,
        refresh_expiry=RefreshExpiryWatcher(
            sessionmaker, interval=settings.refresh_expiry_check_seconds
        ),
    )
    on_stop("snapshot cache", issuer.snapshots.aclose)
    services: list[tuple[str, _Service]] = [
        ("audit batcher", audit),
        ("caller directory", callers),
        ("drift watcher", drift),
        ("webhook dispatcher", webhooks),
        ("refresh expiry watcher", state.refresh_expiry),
    ]
    if listener is not None:
        services.append(("change listener", listener))
    for part, service in services:
        # Pushed first: a ``start`` that raises half way (one loop of two started) is stopped
        # too, and every stop copes with a part that never started.
        on_stop(part, service.stop)
        service.start()
    # Stopped first: from the moment the vault stops, /readyz says so, and asks neither the
    # database nor the KEK again.
    on_stop("database probe", state.database_probe.aclose)
    on_stop("KEK probe", state.kek_probe.aclose)
    return state


async def _logged_stop(part: str, stop: Callable[[], Awaitable[object]]) -> None:
    try:
        await stop()
    except Exception as exc:
        # The type only: a message may quote a statement's parameters.
        log.error("stopping failed", extra={"part": part, "error": type(exc).__name__})
        raise
