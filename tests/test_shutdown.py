"""Shutdown: every part of the app is stopped, whatever an earlier part's stop raised, and
each failure is logged."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.batcher import AuditBatcher
from app.clients.directory import CallerDirectory
from app.config import Settings
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
