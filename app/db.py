"""Database plumbing: the declarative base, engines, sessions, and the one place that commits.

A request's session comes from ``get_session`` (dependency scope ``function``): it commits after
the endpoint returns and before the response is sent, and rolls back if the endpoint raised.
Work outside requests (background jobs, the CLI) uses ``transaction``. Repositories only flush.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, Dialect, MetaData, TypeDecorator, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from app.errors import DatabaseUnavailable

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Failures that mean "the database is not there right now", as opposed to a query the
# database refused (an IntegrityError is the caller's to translate, never a 503).
# What the asyncpg driver raises, used directly, when the server is lost or unreachable.
ASYNCPG_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
)

# Through SQLAlchemy: any driver error (a DBAPIError: the server shutting down, a connection
# cut, "cannot connect now") and a pool that gave none in time. An IntegrityError is a
# DBAPIError too, but it is a query the database refused: ``transaction`` lets it through for
# the caller to translate (and ``app.main`` answers an untranslated one with 409).
DATABASE_UNAVAILABLE = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    OSError,
    TimeoutError,
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, timeout_seconds: float = 5.0) -> AsyncEngine:
    """An engine whose every wait (connect, pool, statement) ends within ``timeout_seconds``."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": timeout_seconds})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout_seconds,
        pool_pre_ping=True,
        connect_args={"timeout": timeout_seconds, "command_timeout": timeout_seconds},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed beside the single writer; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# ``session.info`` key: the hooks ``transaction`` awaits before it commits (``before_commit``).
_BEFORE_COMMIT = "app.db.before_commit"


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session committed on clean exit and rolled back on error (jobs and the CLI). Before
    the commit it writes what is still unsaved, then awaits the ``before_commit`` hooks."""
    async with sessionmaker() as session:
        hooks: list[Callable[[AsyncSession], Awaitable[None]]] = []
        session.info[_BEFORE_COMMIT] = hooks
        try:
            yield session
            # Unsaved changes first (autoflush is off), so a hook's statements are the last.
            await session.flush()
            while hooks:
                await hooks.pop(0)(session)
            await session.commit()
        except sa_exc.IntegrityError:
            raise
        except DATABASE_UNAVAILABLE as exc:
            raise DatabaseUnavailable() from exc
        finally:
            del session.info[_BEFORE_COMMIT]


def before_commit(session: AsyncSession, hook: Callable[[AsyncSession], Awaitable[None]]) -> None:
    """Have ``transaction`` await ``hook`` as the session's last work before its commit (once,
    however often it is given). Raises for a session that ``transaction`` does not commit:
    the hook would silently never run."""
    hooks = session.info.get(_BEFORE_COMMIT)
    if hooks is None:
        raise RuntimeError("before_commit on a session that transaction() does not commit")
    if hook not in hooks:
        hooks.append(hook)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.vault.sessionmaker) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite keeps no zone, so it is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonColumn = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a file-backed SQLite database (``./var`` on a fresh clone)."""
    if not is_sqlite(url):
        return
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
