"""The change listener on a real PostgreSQL: what it delivers, and when it stops vouching.

A lost connection is a backend killed by ``pg_terminate_backend``; a silently dead one is a
backend frozen with SIGSTOP, which answers nothing and closes nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import pytest

from app.changes import APPLICATION_NAME, CHANNEL, ChangeFeed, ChangeListener
from tests.conftest import _postgres_database

pytestmark = [pytest.mark.postgres]

BOUND = 0.8


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture
async def listening(postgres_url: str) -> AsyncIterator[tuple[ChangeListener, list[uuid.UUID]]]:
    heard: list[uuid.UUID] = []
    feed = ChangeFeed()
    feed.on("credential", heard.append)
    feed.on("client", heard.append)
    listener = ChangeListener(
        postgres_url,
        feed=feed,
        max_staleness=BOUND,
        reconnect_seconds=0.1,
    )
    listener.start()
    await asyncio.wait_for(listener.connected.wait(), timeout=10)
    yield listener, heard
    await listener.stop()


async def _sql(url: str, statement: str, *args: object) -> object:
    """One statement on a connection of its own; its first value."""
    connection = await asyncpg.connect(_dsn(url))
    try:
        return await connection.fetchval(statement, *args)
    finally:
        await connection.close()


async def _listening_backend(url: str) -> int:
    pid = await _sql(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = $1",
        APPLICATION_NAME,
    )
    assert isinstance(pid, int)
    return pid


async def _until(check: Callable[[], bool], limit: float) -> float:
    started = time.perf_counter()
    while not check():
        assert time.perf_counter() - started < limit, "not in time"
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def test_a_notification_is_delivered_and_reads_are_vouched_for(
    listening: tuple[ChangeListener, list[uuid.UUID]], postgres_url: str
) -> None:
    listener, heard = listening
    epoch = listener.epoch()
    assert epoch > 0
    assert listener.vouches_for(epoch)
    assert not listener.vouches_for(0)
    await asyncio.sleep(BOUND * 2)  # kept up by the pings, not by the connection's start
    assert listener.vouches_for(epoch)
    changed = uuid.uuid4()
    await _sql(postgres_url, "SELECT pg_notify($1, $2)", CHANNEL, f"credential:{changed}")
    await _sql(postgres_url, "SELECT pg_notify($1, $2)", CHANNEL, "credential:not-a-uuid")
    await _until(lambda: heard == [changed], 5)


async def test_a_lost_connection_ends_what_it_vouched_for(
    listening: tuple[ChangeListener, list[uuid.UUID]], postgres_url: str
) -> None:
    listener, _ = listening
    epoch = listener.epoch()
    await _sql(
        postgres_url, "SELECT pg_terminate_backend($1)", await _listening_backend(postgres_url)
    )
    await _until(lambda: not listener.vouches_for(epoch), 5)
    # Listening again on a new connection, which vouches only for reads made after it began.
    await _until(lambda: listener.epoch() not in (0, epoch), 10)
    assert listener.vouches_for(listener.epoch())
    assert not listener.vouches_for(epoch)


async def test_a_silently_dead_connection_stops_vouching_within_the_bound(
    listening: tuple[ChangeListener, list[uuid.UUID]], postgres_url: str
) -> None:
    listener, _ = listening
    epoch = listener.epoch()
    backend = await _listening_backend(postgres_url)
    os.kill(backend, signal.SIGSTOP)
    try:
        lapsed = await _until(lambda: not listener.vouches_for(epoch), 5)
    finally:
        os.kill(backend, signal.SIGCONT)
    # Vouching ends at most one bound after the last answered ping started.
    assert lapsed <= BOUND + 0.3
