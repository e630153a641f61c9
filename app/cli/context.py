"""What every command needs: the service's own settings, an engine and the envelope."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import Caller
from app.cli.output import plain
from app.config import ConfigurationError, Settings, get_settings
from app.crypto import Envelope
from app.crypto.key_worker import key_check_pool
from app.db import make_engine, make_sessionmaker
from app.errors import VaultError
from app.keys.providers import build_envelope
from app.ops.kek_usage import WrapRecorder

T = TypeVar("T")
# Commands act as the operator at the machine: every account, audited with no client id.
OPERATOR = Caller(client_id=None, name="vault-admin", scopes=frozenset({"admin"}), account_ids=None)
console = Console()
errors = Console(stderr=True)


@dataclass
class Context:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope


@asynccontextmanager
async def vault_context() -> AsyncIterator[Context]:
    settings = get_settings()
    kek = build_envelope(settings)
    engine = make_engine(settings.database_url, timeout_seconds=settings.database_timeout_seconds)
    sessionmaker = make_sessionmaker(engine)
    try:
        with key_check_pool():  # its processes end with the command
            yield Context(settings, sessionmaker, kek.envelope)
    finally:
        # What the command sealed or re-wrapped counts against its KEK's limit too.
        await WrapRecorder(sessionmaker, kek.envelope).flush()
        await engine.dispose()
        await kek.aclose()


def run(command: Callable[[Context], Awaitable[T]]) -> T:
    """Run an async command; configuration and service errors end it with a clear message."""

    async def main() -> T:
        async with vault_context() as context:
            return await command(context)

    try:
        return asyncio.run(main())
    except (ConfigurationError, VaultError) as exc:
        errors.print("[red]error:[/red] ", plain(getattr(exc, "message", str(exc))), sep="")
        raise typer.Exit(code=1) from None
