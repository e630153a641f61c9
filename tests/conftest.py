"""Shared fixtures: a migrated database per backend, and the real app behind httpx.

Every API test runs on SQLite and on PostgreSQL (``[sqlite]`` / ``[postgres]`` in its id). The
schema is always built by ``alembic upgrade head``. PostgreSQL tests are skipped when the server
is absent, except under ``CI=true``, where a missing server fails the run loudly.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.audit.models import GENESIS_HASH
from app.config import Settings
from app.connections import models as _connection_models  # noqa: F401  (table list for cleanup)
from app.crypto import LocalKeyring
from app.crypto.key_worker import key_check_pool
from app.db import Base, is_sqlite, make_engine
from app.main import create_app
from app.state import AppState
from app.walmart import models as _walmart_models  # noqa: F401  (table list for cleanup)
from app.webhooks import models as _webhook_models  # noqa: F401  (table list for cleanup)
from tests import sqlite_locks
from tests.walmart_sim import SimulatorControl, SimulatorServer

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_SERVER = os.environ.get("VAULT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
BOOTSTRAP_TOKEN = "test-bootstrap-token-0123456789abcdef"
PUBLIC_URL = "https://vault.example.com"  # where links and callbacks point sellers' browsers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``-m postgres`` selects exactly what runs on PostgreSQL: the ``[postgres]`` variant of
    every test over both databases, and every test that uses a ``postgres_url`` of its own."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec is not None else None
        if backend == "postgres" or "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    command.upgrade(config, "head")


async def _postgres_admin(sql: str) -> None:
    connection = await asyncpg.connect(f"{POSTGRES_SERVER}/postgres", timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _postgres_database() -> Iterator[str]:
    name = f"vault_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs PostgreSQL at {POSTGRES_SERVER}: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_SERVER}")
    url = f"{POSTGRES_SERVER.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    migrate(url)
    yield url
    asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", autouse=True)
def key_check_processes() -> Iterator[None]:
    """Tests that call services without an app's lifespan: the session owns the key-check pool
    (an app or a CLI command started inside a test owns its own)."""
    with key_check_pool():
        yield


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'vault.db'}"
        migrate(url)
        yield url
    else:
        yield from _postgres_database()


@pytest.fixture(scope="session")
def local_keks() -> str:
    return ",".join([LocalKeyring.generate_spec("test-2"), LocalKeyring.generate_spec("test-1")])


@pytest.fixture(scope="session")
def walmart() -> Iterator[SimulatorServer]:
    """The Walmart simulator, a real HTTP server on loopback, shared by the session."""
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def walmart_control(walmart: SimulatorServer) -> Iterator[SimulatorControl]:
    """Control of the simulator, reset to empty for each test that uses it."""
    with SimulatorControl(walmart.base_url) as control:
        control.reset()
        yield control


def sandbox_url(production_url: str) -> str:
    # The same simulator under another host name, so the two environments differ in origin.
    return production_url.replace("127.0.0.1", "localhost")


@pytest.fixture
def settings(
    database_url: str, local_keks: str, tmp_path: Path, walmart: SimulatorServer
) -> Settings:
    return Settings(
        _env_file=None,
        env="production",
        database_url=database_url,
        bootstrap_token=BOOTSTRAP_TOKEN,
        local_keks=local_keks,
        dev_keks_file=tmp_path / "dev-keks",
        dev_token_file=tmp_path / "dev-token",
        walmart_production_url=walmart.base_url,
        walmart_allow_http=True,  # the simulator on loopback
        walmart_sandbox_url=sandbox_url(walmart.base_url),
        walmart_timeout_seconds=3,
        public_url=PUBLIC_URL,
    )


# Seconds the emptying waits for SQLite's write lock. The driver's 5 s ran out once in CI (the
# setup after the fuzz run) with the cause not found: nothing in the app holds a write
# transaction across a slow await, and a lock probe after every test of the SQLite suite found
# none left. It came back once in 30 s, in a fresh clone's run, at the same place, with no
# task and no database thread alive in the test process. A connection left open in a reference
# cycle (closed by nobody, so with no thread) would fit: so a garbage collection is run and the
# emptying tried once more, briefly; a lock it released is reported at the end of the run, and
# one it did not fails naming the lock's holders (``tests.sqlite_locks``) and who was alive.
SQLITE_LOCK_WAIT = 30.0
AFTER_COLLECTION_WAIT = 1.0
RELEASED_BY_COLLECTION: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RELEASED_BY_COLLECTION:
        terminalreporter.section("SQLite locks a garbage collection released")
        for seen in RELEASED_BY_COLLECTION:
            terminalreporter.write_line(seen)


async def _empty_tables(url: str) -> None:
    try:
        await _empty_tables_once(url)
    except OperationalError as exc:
        if "database is locked" not in str(exc):
            raise
        database = make_url(url).database or ""
        before = sqlite_locks.holders(database)
        gc.collect()  # a connection left open in a reference cycle closes when collected
        try:
            await _empty_tables_once(url, wait=AFTER_COLLECTION_WAIT)
        except OperationalError as again:
            if "database is locked" not in str(again):
                raise
            raise AssertionError(
                f"SQLite stayed locked for {SQLITE_LOCK_WAIT} s, and {AFTER_COLLECTION_WAIT} s "
                f"after a garbage collection; lock holders before it {before}, after it "
                f"{sqlite_locks.holders(database)}; {_alive()}"
            ) from again
        test = os.environ.get("PYTEST_CURRENT_TEST", "?")
        RELEASED_BY_COLLECTION.append(f"before {test}: lock holders {before}")


def _alive() -> str:
    tasks = sorted(_waiting_at(task.get_stack()) for task in asyncio.all_tasks())
    frames = sys._current_frames()  # the only way to see other threads' stacks
    threads = sorted(
        f"{thread.name}: {_waiting_at([frames[thread.ident]])}"
        for thread in threading.enumerate()
        if thread.ident in frames
    )
    return f"tasks {tasks}; threads {threads}"


def _waiting_at(stack: list[FrameType]) -> str:
    """Where a task or thread is waiting: its innermost frame."""
    if not stack:
        return "(not started)"
    frame = stack[-1]
    return f"{frame.f_code.co_qualname} ({frame.f_code.co_filename}:{frame.f_lineno})"


async def _empty_tables_once(url: str, *, wait: float = SQLITE_LOCK_WAIT) -> None:
    engine = make_engine(url, timeout_seconds=wait) if is_sqlite(url) else make_engine(url)
    try:
        async with engine.begin() as connection:
            # State counts follow the deletions through their triggers, down to zero.
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in ("audit_chain_head", "state_counts"):
                    await connection.execute(text(f"DELETE FROM {table.name}"))  # noqa: S608
            await connection.execute(
                text("UPDATE audit_chain_head SET last_hash = :genesis, events = 0"),
                {"genesis": GENESIS_HASH},
            )
    finally:
        await engine.dispose()


@pytest.fixture
async def vault_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app with its lifespan running, on an empty database."""
    await _empty_tables(settings.database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def vault_state(vault_app: FastAPI) -> AppState:
    state: AppState = vault_app.state.vault
    return state


@pytest.fixture
async def client(vault_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app over httpx, authenticated as the bootstrap admin."""
    transport = httpx.ASGITransport(app=vault_app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://vault.test",
        headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
    ) as http:
        yield http
