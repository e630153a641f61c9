"""A rotated refresh token outlives a transaction that fails after Walmart answered it.

The simulator retires the old refresh token the moment it answers a new one (Walmart does not
document which it does), so a vault that lost the new token would have to ask the seller to
connect again. The failures are real: another PostgreSQL connection holds a table lock, and
the vault's statements wait on it until the database timeout ends them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from sqlalchemy.pool import QueuePool

from app.config import Settings
from app.state import AppState
from tests.api.helpers import assert_error
from tests.connections.test_refresh import (
    assert_served,
    headers,
    refresh,
    refreshing,
    rotated_events,
    rotated_tokens,
    sealed_refresh_token,
)
from tests.running import running_vault
from tests.walmart_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has no table locks: a blocked write would block every write")
    # A blocked statement ends soon: the failures below cost a second each, not five.
    return settings.model_copy(update={"database_timeout_seconds": 1.0})


@asynccontextmanager
async def tables_locked(settings: Settings, tables: Iterable[str]) -> AsyncIterator[None]:
    """Writes to ``tables`` wait (reads go on) while another connection holds them."""
    url = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            for table in tables:
                await connection.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            yield
    finally:
        await connection.close()


async def test_stored_in_its_own_transaction_when_the_access_token_cannot_be(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    walmart: SimulatorServer,
    settings: Settings,
) -> None:
    credential, before = await refreshing(
        client, walmart_control, settings, rotate=True, retire_at_once=True
    )
    async with tables_locked(settings, ["oauth_tokens"]):
        assert_error(await headers(client, walmart), 503, "database_unavailable")
    # Walmart rotated (and retired the old token) before the failure; the new one is stored.
    assert await sealed_refresh_token(settings, credential["id"]) != before
    assert await rotated_events(client) == 1
    await assert_served(client, walmart)
    app_store = walmart_control.stats()["app_store"]
    assert app_store["grants"] == {"authorization_code": 1, "refresh_token": 2}
    assert app_store["refused"] == {}


async def test_kept_in_memory_and_sent_next_time_when_nothing_can_be_stored(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    walmart: SimulatorServer,
    settings: Settings,
    vault_state: AppState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    credential, before = await refreshing(
        client, walmart_control, settings, rotate=True, retire_at_once=True
    )
    async with tables_locked(settings, ["oauth_tokens", "credential_versions"]):
        assert_error(await headers(client, walmart), 503, "database_unavailable")
    assert await sealed_refresh_token(settings, credential["id"]) == before
    [kept] = [r for r in caplog.records if "kept in memory" in r.getMessage()]
    assert kept.credential_id == credential["id"]  # type: ignore[attr-defined]
    held = rotated_tokens(vault_state).held
    token = held[uuid.UUID(credential["id"])].token
    assert token not in repr(rotated_tokens(vault_state))
    assert token not in caplog.text
    # The stored token is retired at Walmart now: only the one held in memory works.
    await assert_served(client, walmart)
    assert await sealed_refresh_token(settings, credential["id"]) != before
    assert held == {}
    assert await rotated_events(client) == 1
    app_store = walmart_control.stats()["app_store"]
    assert app_store["grants"] == {"authorization_code": 1, "refresh_token": 2}
    assert app_store["refused"] == {}


async def test_a_held_token_gives_way_to_one_another_replica_stored_since(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    walmart: SimulatorServer,
    settings: Settings,
) -> None:
    # The old token works until its successor is used: the other replica can still refresh.
    credential, _ = await refreshing(client, walmart_control, settings, rotate=True)
    async with tables_locked(settings, ["oauth_tokens", "credential_versions"]):
        assert_error(await headers(client, walmart), 503, "database_unavailable")
    async with running_vault(settings, "http://replica-2.test") as replica:
        await assert_served(replica, walmart)  # Walmart retired the held token now
    await refresh(client, credential)
    # Sending the held token now would cost the seller a reconnect.
    await assert_served(client, walmart)
    assert walmart_control.stats()["app_store"]["refused"] == {}


async def test_written_with_the_access_token_when_no_second_connection_is_free(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    walmart: SimulatorServer,
    settings: Settings,
    vault_state: AppState,
) -> None:
    credential, before = await refreshing(
        client, walmart_control, settings, rotate=True, retire_at_once=True
    )
    pool = vault_state.engine.pool
    assert isinstance(pool, QueuePool)
    capacity = pool.size() + pool._max_overflow  # no public name for the overflow bound
    taken = [await vault_state.engine.connect() for _ in range(capacity - 1)]
    try:
        # The broker's transaction takes the last connection; the store of its own waits for
        # another until the database timeout, so the token goes in with the access token.
        await assert_served(client, walmart)
    finally:
        for connection in taken:
            await connection.close()
    assert await sealed_refresh_token(settings, credential["id"]) != before
    assert await rotated_events(client) == 1
    await refresh(client, credential)
    await assert_served(client, walmart)
    assert rotated_tokens(vault_state).held == {}
    assert walmart_control.stats()["app_store"]["refused"] == {}
