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
from app.main import create_app


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


async def test_after_a_stop_readiness_no_longer_reaches_the_kek(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.vault
        assert await state.kek_probe.healthy(state.envelope)
    assert not await state.kek_probe.healthy(state.envelope)
