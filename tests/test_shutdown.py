"""Shutdown: every part of the app is stopped, whatever an earlier part's stop raised."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clients.directory import CallerDirectory
from app.config import Settings
from app.main import create_app


async def test_a_stop_that_fails_leaves_the_later_ones_to_run(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    disposed: list[AsyncEngine] = []
    dispose = AsyncEngine.dispose

    async def recorded_dispose(engine: AsyncEngine, close: bool = True) -> None:
        disposed.append(engine)
        await dispose(engine, close)

    async def failing_stop(_directory: CallerDirectory) -> None:
        raise RuntimeError("the last usage flush failed")

    monkeypatch.setattr(AsyncEngine, "dispose", recorded_dispose)
    monkeypatch.setattr(CallerDirectory, "stop", failing_stop)
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="usage flush failed"):
        async with app.router.lifespan_context(app):
            engine = app.state.vault.engine
    # The engine is disposed last of all, after the caller directory's failed stop.
    assert disposed[-1] is engine
