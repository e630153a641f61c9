"""The vault as ``uvicorn tests.json_logs_app:app`` serves it (the path of ``make run``), with
one more route that fails the way a bug would: its exception's message holds request data."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.config import Settings
from app.main import create_app

DATA_IN_ERROR = "data-from-the-request-4d1f"


def _build() -> FastAPI:
    app = create_app(Settings(_env_file=None))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"could not handle {DATA_IN_ERROR}")

    return app


def __getattr__(name: str) -> Any:
    # Built when uvicorn asks for it, so importing the constant reads no settings.
    if name == "app":
        return _build()
    raise AttributeError(name)
