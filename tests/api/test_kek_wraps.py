"""Every data key a KEK wraps is counted, across restarts and CLI runs; the count is a metric
and a column of ``vault-admin kek status``, with a warning long before the 2^32 bound."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.ops.kek_usage import WRAP_WARNING, WrapRecorder
from app.ops.models import KekWraps
from app.ops.repository import KekWrapsRepository
from app.state import AppState
from tests.factories import oauth_body
from tests.test_cli import vault_admin_async


async def _totals(state: AppState) -> dict[tuple[str, str], int]:
    async with state.sessionmaker() as session:
        return await KekWrapsRepository(session).totals()


async def test_each_seal_is_counted_for_its_kek(
    client: httpx.AsyncClient, vault_app: FastAPI, vault_state: AppState
) -> None:
    for n in range(3):
        created = await client.post("/v1/credentials", json=oauth_body(account_id=f"w{n}"))
        assert created.status_code == 201
    await WrapRecorder(vault_state.sessionmaker, vault_state.envelope).flush()
    active = vault_state.envelope.active_kek
    assert (await _totals(vault_state))[active] >= 3
    before = (await _totals(vault_state))[active]
    await client.post("/v1/credentials", json=oauth_body(account_id="w-last"))
    await WrapRecorder(vault_state.sessionmaker, vault_state.envelope).flush()
    assert (await _totals(vault_state))[active] == before + 1
    vault_state.metrics.read_at = float("-inf")
    scraped = (await client.get("/metrics")).text
    assert f'vault_kek_wraps{{key_id="{active[1]}",provider="{active[0]}"}} {before + 1}.0' in (
        scraped
    )


async def test_counts_survive_a_restart(settings: Settings, vault_state: AppState) -> None:
    active = vault_state.envelope.active_kek
    for _ in range(2):  # each lifespan's own self-check and the shutdown flush
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            await app.state.vault.envelope.self_check()
    assert (await _totals(vault_state))[active] >= 2


async def test_warning_well_before_the_limit(
    client: httpx.AsyncClient,
    vault_state: AppState,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = WrapRecorder(vault_state.sessionmaker, vault_state.envelope)
    await vault_state.envelope.self_check()
    await recorder.flush()
    provider, key_id = vault_state.envelope.active_kek
    async with transaction(vault_state.sessionmaker) as session:
        await session.execute(
            update(KekWraps)
            .where(KekWraps.provider == provider, KekWraps.key_id == key_id)
            .values(wraps=WRAP_WARNING - 1)
        )
    caplog.set_level(logging.WARNING, logger="vault.kek")
    await client.post("/v1/credentials", json=oauth_body(account_id="over"))
    await recorder.flush()
    warned = [r for r in caplog.records if r.getMessage().startswith("kek.wraps_high")]
    assert len(warned) == 1
    assert warned[0].__dict__["key_id"] == key_id
    status = await vault_admin_async(settings, "kek", "status", cwd=tmp_path)
    assert f"{provider}/{key_id} has wrapped" in status.stdout
    assert "rotate it" in status.stdout
    rows = [
        json.loads(line)
        for line in (
            await vault_admin_async(settings, "kek", "status", "--json", cwd=tmp_path)
        ).stdout.splitlines()
    ]
    assert next(r for r in rows if r["active"])["wraps"] >= WRAP_WARNING


async def test_counts_wait_out_a_database_outage(vault_state: AppState) -> None:
    from app.db import make_engine, make_sessionmaker

    dead = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none", timeout_seconds=1)
    try:
        await vault_state.envelope.self_check()
        await WrapRecorder(make_sessionmaker(dead), vault_state.envelope).flush()
    finally:
        await dead.dispose()
    active = vault_state.envelope.active_kek
    before = (await _totals(vault_state)).get(active, 0)
    await WrapRecorder(vault_state.sessionmaker, vault_state.envelope).flush()
    assert (await _totals(vault_state))[active] >= before + 1
