"""A vault with its lifespan running, over httpx: another replica beside the ``client``
fixture's, or a vault with other settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from app.config import Settings
from app.main import create_app
from tests.conftest import BOOTSTRAP_TOKEN


@asynccontextmanager
async def running_vault(
    settings: Settings, base_url: str = "http://vault.test"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app for ``settings`` (background jobs included), authenticated as the bootstrap
    admin."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=base_url,
            headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
        ) as http,
    ):
        yield http
