"""Alembic environment: async engine, URL from the caller or VAULT_DATABASE_URL, never app settings.

Tests and the service pass the URL programmatically (``config.attributes["url"]``); the command
line reads ``VAULT_DATABASE_URL`` from the environment or ``.env``, like the service does.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from dotenv import dotenv_values
from sqlalchemy.engine import Connection

import app.audit.models
import app.clients.models
import app.connections.models
import app.credentials.models
import app.intake.models
import app.ops.models
import app.walmart.models
import app.webhooks.models  # noqa: F401  (registers the tables on Base.metadata)
from app.db import Base, UtcDateTime, ensure_sqlite_directory, make_engine

DEFAULT_URL = "sqlite+aiosqlite:///./var/vault.db"

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    given = config.attributes.get("url")
    if isinstance(given, str):
        return given
    from_env = os.environ.get("VAULT_DATABASE_URL") or dotenv_values(".env").get(
        "VAULT_DATABASE_URL"
    )
    return from_env or DEFAULT_URL


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the app's column types as plain SQLAlchemy, so migrations never import the app."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    url = database_url()
    ensure_sqlite_directory(url)
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_with_connection)
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        run_with_connection(connection)
    else:
        asyncio.run(run_async())
