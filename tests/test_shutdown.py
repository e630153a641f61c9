"""Shutdown: every part of the app is stopped, whatever an earlier part's stop raised, and
each failure is logged."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.batcher import AuditBatcher
from app.clients.directory import CallerDirectory
from app.config import Settings
from app.credentials.drift import DriftWatcher
from app.errors import DatabaseUnavailable
from app.headers.reader import AsyncpgReader, SessionReader
from app.main import create_app
from app.webhooks.dispatcher import WebhookDispatcher


async def test_stops_that_fail_leave_the_later_ones_to_run_and_are_each_logged(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    disposed: list[AsyncEngine] = []
    dispose = AsyncEngine.dispose

    async def recorded_dispose(engine: AsyncEngine, close: bool = True) -> None:
        disposed.append(engine)
        await dispose(engine, close)

    async def usage_flush_fails(_directory: CallerDirectory) -> None:
        raise DatabaseUnavailable()

    async def audit_flush_fails(_batcher: AuditBatcher) -> None:
        raise RuntimeError("the last audit flush failed")

    monkeypatch.setattr(AsyncEngine, "dispose", recorded_dispose)
    monkeypatch.setattr(CallerDirectory, "stop", usage_flush_fails)
    monkeypatch.setattr(AuditBatcher, "stop", audit_flush_fails)
    caplog.set_level(logging.ERROR, logger="vault.shutdown")
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="audit flush failed"):  # the last to fail
        async with app.router.lifespan_context(app):
            engine = app.state.vault.engine
    # The engine is disposed last of all, after both failed stops.
    assert disposed[-1] is engine
    failures = [(r.__dict__["part"], r.__dict__["error"]) for r in caplog.records]
    assert failures == [
        ("caller directory", "DatabaseUnavailable"),
        ("audit batcher", "RuntimeError"),
    ]


async def test_a_start_up_that_fails_half_way_stops_what_it_had_started(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    disposed: list[AsyncEngine] = []
    dispose = AsyncEngine.dispose
    stopped: list[str] = []
    audit_stop, directory_stop = AuditBatcher.stop, CallerDirectory.stop
    client_close = httpx.AsyncClient.aclose

    async def recorded_dispose(engine: AsyncEngine, close: bool = True) -> None:
        disposed.append(engine)
        await dispose(engine, close)

    async def recorded_audit_stop(batcher: AuditBatcher) -> None:
        stopped.append("audit batcher")
        await audit_stop(batcher)

    async def recorded_directory_stop(directory: CallerDirectory) -> None:
        stopped.append("caller directory")
        await directory_stop(directory)

    async def recorded_client_close(client: httpx.AsyncClient) -> None:
        stopped.append("HTTP client")
        await client_close(client)

    def drift_cannot_start(_watcher: DriftWatcher) -> None:
        raise RuntimeError("the drift watcher could not start")

    monkeypatch.setattr(AsyncEngine, "dispose", recorded_dispose)
    monkeypatch.setattr(AuditBatcher, "stop", recorded_audit_stop)
    monkeypatch.setattr(CallerDirectory, "stop", recorded_directory_stop)
    monkeypatch.setattr(httpx.AsyncClient, "aclose", recorded_client_close)
    monkeypatch.setattr(DriftWatcher, "start", drift_cannot_start)
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="could not start"):
        async with app.router.lifespan_context(app):
            raise AssertionError("the app must not start")
    # The parts started before the drift watcher are stopped, last first, then the pools.
    assert stopped == ["caller directory", "audit batcher", "HTTP client", "HTTP client"]
    assert len(disposed) == 1


async def test_once_stopped_readiness_says_so_without_asking_the_kek(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.vault
        assert await state.kek_probe.healthy(state.envelope)  # a good verdict, cached
    transport = httpx.ASGITransport(app=app)  # a probe that outlives the server's drain
    async with httpx.AsyncClient(transport=transport, base_url="http://vault") as client:
        reply = await client.get("/readyz")
    assert reply.status_code == 503
    assert reply.json()["checks"] == {"database": "failed", "kek": "failed"}


async def test_a_reader_that_cannot_open_leaves_no_pool_or_client_open(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    dispose, client_close = AsyncEngine.dispose, httpx.AsyncClient.aclose

    async def recorded_dispose(engine: AsyncEngine, close: bool = True) -> None:
        closed.append("database engine")
        await dispose(engine, close)

    async def recorded_client_close(client: httpx.AsyncClient) -> None:
        closed.append("HTTP client")
        await client_close(client)

    async def pool_refused(*_args: object, **_kwargs: object) -> AsyncpgReader:
        raise OSError("the database refused the reader's pool")

    def session_refused(*_args: object) -> None:
        raise OSError("the database refused the reader's pool")

    monkeypatch.setattr(AsyncEngine, "dispose", recorded_dispose)
    monkeypatch.setattr(httpx.AsyncClient, "aclose", recorded_client_close)
    monkeypatch.setattr(AsyncpgReader, "open", pool_refused)  # PostgreSQL's reader
    monkeypatch.setattr(SessionReader, "__init__", session_refused)  # SQLite's
    app = create_app(settings)
    with pytest.raises(OSError, match="refused the reader's pool"):
        async with app.router.lifespan_context(app):
            raise AssertionError("the app must not start")
    assert closed == ["HTTP client", "HTTP client", "database engine"]


async def test_a_failed_start_up_raises_its_own_error_over_a_failing_stop(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def audit_flush_fails(_batcher: AuditBatcher) -> None:
        raise RuntimeError("the last audit flush failed")

    def drift_cannot_start(_watcher: DriftWatcher) -> None:
        raise ValueError("the drift watcher could not start")

    monkeypatch.setattr(AuditBatcher, "stop", audit_flush_fails)
    monkeypatch.setattr(DriftWatcher, "start", drift_cannot_start)
    caplog.set_level(logging.ERROR, logger="vault.shutdown")
    app = create_app(settings)
    with pytest.raises(ValueError, match="could not start"):
        async with app.router.lifespan_context(app):
            raise AssertionError("the app must not start")
    failures = [(r.__dict__["part"], r.__dict__["error"]) for r in caplog.records]
    assert failures == [("audit batcher", "RuntimeError")]


async def test_a_part_that_fails_half_way_through_its_own_start_is_stopped(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[WebhookDispatcher] = []

    def one_loop_of_two(dispatcher: WebhookDispatcher) -> None:
        started.append(dispatcher)
        dispatcher._loops[0].start()
        raise RuntimeError("the second delivery loop could not start")

    monkeypatch.setattr(WebhookDispatcher, "start", one_loop_of_two)
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="could not start"):
        async with app.router.lifespan_context(app):
            raise AssertionError("the app must not start")
    assert started
    assert not started[0]._loops[0].running  # its stop ran, though its start never returned
