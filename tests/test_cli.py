"""``vault-admin`` run as a real process against the service's database and settings."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.crypto import Envelope, LocalKeyring
from app.db import make_engine
from app.keys.rewrap import backlog
from app.main import create_app
from app.sealed import sealed_tables
from tests.conftest import BOOTSTRAP_TOKEN, _empty_tables
from tests.factories import CHANNEL_TYPE, keks_rotated_to, oauth_body, rsa_key, signature_body
from tests.walmart_sim import SimulatorControl, SimulatorServer

VAULT_ADMIN = Path(sys.executable).parent / "vault-admin"


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update(
        VAULT_ENV="production",
        VAULT_DATABASE_URL=settings.database_url,
        VAULT_LOCAL_KEKS=settings.local_keks.get_secret_value() if settings.local_keks else "",
        VAULT_WALMART_PRODUCTION_URL=str(settings.walmart_production_url),
        VAULT_WALMART_ALLOW_HTTP="true",
        VAULT_WALMART_SANDBOX_URL=str(settings.walmart_sandbox_url),
        COLUMNS="200",
    )
    env.update(extra)
    return env


def vault_admin(
    settings: Settings, *args: str, cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VAULT_ADMIN), *args],
        env=cli_env(settings, **extra),
        cwd=cwd,  # away from the repository's .env
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def vault_admin_async(
    settings: Settings, *args: str, cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """``vault_admin`` off the event loop, so the test's in-process app keeps running (and ends
    any SQLite write it is in the middle of) while the CLI waits for the database."""
    return await asyncio.to_thread(vault_admin, settings, *args, cwd=cwd, **extra)


async def http_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://vault.test",
        headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
    ) as http:
        yield http


async def test_clients_commands(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    made = await vault_admin_async(
        settings,
        "clients",
        "create",
        "--name",
        "ops",
        "--scope",
        "credentials:read",
        "--account",
        "acme-1",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.split("token (shown once): ")[1].split()[0]
    listed = await client.get("/v1/credentials", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    shown = await vault_admin_async(settings, "clients", "list", cwd=tmp_path)
    assert "ops" in shown.stdout
    assert token not in shown.stdout
    client_id = made.stdout.split()[1]
    assert (
        await vault_admin_async(settings, "clients", "revoke", client_id, cwd=tmp_path)
    ).returncode == 0
    # Another process revoked it: the server learns within the staleness bound (at once by
    # NOTIFY on PostgreSQL, by its recheck on SQLite).
    deadline = asyncio.get_running_loop().time() + settings.cache_max_staleness_seconds + 0.5
    while True:
        answer = await client.get("/v1/credentials", headers={"Authorization": f"Bearer {token}"})
        if answer.status_code == 401 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert answer.status_code == 401
    bad = await vault_admin_async(
        settings, "clients", "create", "--name", "x", "--scope", "root", cwd=tmp_path
    )
    assert bad.returncode != 0
    assert "unknown scope" in bad.stderr


async def test_credentials_commands(
    client: httpx.AsyncClient,
    settings: Settings,
    tmp_path: Path,
    walmart_control: SimulatorControl,
) -> None:
    body = signature_body()
    walmart_control.add_consumer(body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE)
    created = (await client.post("/v1/credentials", json=body)).json()
    listed = await vault_admin_async(settings, "credentials", "list", cwd=tmp_path)
    assert created["id"] in listed.stdout
    shown = await vault_admin_async(settings, "credentials", "show", created["id"], cwd=tmp_path)
    assert created["fingerprint"] in shown.stdout
    assert body["auth"]["private_key"][:60] not in shown.stdout + listed.stdout
    tested = await vault_admin_async(settings, "credentials", "test", created["id"], cwd=tmp_path)
    assert tested.returncode == 0, tested.stderr
    assert '"outcome": "valid"' in tested.stdout
    assert (await client.get(f"/v1/credentials/{created['id']}")).json()["status"] == "valid"
    walmart_control.remove_consumer(body["auth"]["consumer_id"])
    failed = await vault_admin_async(settings, "credentials", "test", created["id"], cwd=tmp_path)
    assert failed.returncode == 1
    missing = await vault_admin_async(
        settings, "credentials", "show", "00000000-0000-0000-0000-000000000000", cwd=tmp_path
    )
    assert missing.returncode == 1
    assert "No credential" in missing.stderr


async def test_audit_verify_names_the_first_break(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    for n in range(3):
        await client.post("/v1/credentials", json=oauth_body(account_id=f"a{n}"))
    intact = await vault_admin_async(settings, "audit", "verify", cwd=tmp_path)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 4 events" in intact.stdout
    tail = await vault_admin_async(settings, "audit", "tail", "--limit", "2", cwd=tmp_path)
    assert tail.stdout.count("credential.created") == 2
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            ids = [
                r[0]
                for r in await connection.execute(text("SELECT id FROM audit_events ORDER BY id"))
            ]
            await connection.execute(
                text("UPDATE audit_events SET account_id = 'zz' WHERE id = :id"), {"id": ids[1]}
            )
            await connection.execute(
                text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[3]}
            )
    finally:
        await engine.dispose()
    broken = await vault_admin_async(settings, "audit", "verify", cwd=tmp_path)
    assert broken.returncode == 1
    assert f"event {ids[1]} was edited" in broken.stderr


def test_production_settings_are_enforced(settings: Settings, tmp_path: Path) -> None:
    result = vault_admin(settings, "kek", "status", cwd=tmp_path, VAULT_LOCAL_KEKS="")
    assert result.returncode == 1
    assert "VAULT_LOCAL_KEKS" in result.stderr


@pytest.mark.slow
async def test_rewrap_survives_sigkill_and_resumes(
    settings: Settings, tmp_path: Path, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    old = settings.local_keks.get_secret_value() if settings.local_keks else ""
    new_spec = LocalKeyring.generate_spec("rotated-1")
    count = 300
    await _empty_tables(settings.database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async for http in http_for(app):
            for n in range(count):
                body = signature_body(account_id=f"seller-{n}")
                assert (await http.post("/v1/credentials", json=body)).status_code == 201
    status = await vault_admin_async(settings, "kek", "status", cwd=tmp_path)
    assert f"{count} data key(s) on an older KEK" not in status.stdout  # all on the active key

    rotated = {"VAULT_LOCAL_KEKS": f"{new_spec},{old}"}
    before = await vault_admin_async(settings, "kek", "status", cwd=tmp_path, **rotated)
    assert f"{count} data key(s) on an older KEK" in before.stdout, before.stdout
    process = subprocess.Popen(  # noqa: ASYNC220  (polled below while the loop runs)
        [str(VAULT_ADMIN), "kek", "rewrap", "--batch-size", "1"],
        env=cli_env(settings, **rotated),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rotated_envelope = Envelope(LocalKeyring.parse(f"{new_spec},{old}"))
    engine = make_engine(settings.database_url)
    try:
        remaining = count
        while process.poll() is None and remaining > count // 2:
            await asyncio.sleep(0.005)
            async with engine.connect() as connection:
                remaining = await backlog(sealed_tables(AsyncSession(connection)), rotated_envelope)
        assert process.poll() is None, "rewrap finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        async with engine.connect() as connection:
            midway = await backlog(sealed_tables(AsyncSession(connection)), rotated_envelope)
    finally:
        await engine.dispose()
    assert 0 < midway < count
    resumed = await vault_admin_async(
        settings, "kek", "rewrap", "--batch-size", "25", cwd=tmp_path, **rotated
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"re-wrapped {midway} data key(s)" in resumed.stdout
    again = await vault_admin_async(settings, "kek", "rewrap", cwd=tmp_path, **rotated)
    assert "re-wrapped 0 data key(s)" in again.stdout

    only_new = settings.model_copy(update={"local_keks": SecretStr(new_spec)})
    app = create_app(only_new)
    async with app.router.lifespan_context(app):
        async for http in http_for(app):
            listed: list[dict[str, str]] = []
            cursor = None
            while True:
                params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
                page = (await http.get("/v1/credentials", params=params)).json()
                listed += page["items"]
                if (cursor := page["next_cursor"]) is None:
                    break
            assert len(listed) == count
            for credential in listed:
                issued = await http.post(
                    f"/v1/credentials/{credential['id']}/headers",
                    json={"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"},
                )
                assert issued.status_code == 200, issued.text


async def test_rewrap_waits_for_a_row_another_transaction_holds(
    settings: Settings, tmp_path: Path
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no row is skipped as locked")
    await _empty_tables(settings.database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async for http in http_for(app):
            assert (await http.post("/v1/credentials", json=signature_body())).status_code == 201
    rotated = {"VAULT_LOCAL_KEKS": keks_rotated_to("rotated-1", settings.local_keks)}
    holder = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    watcher = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute("SELECT id FROM credentials FOR UPDATE")  # a rotation, say
        rewrap = asyncio.create_task(
            vault_admin_async(settings, "kek", "rewrap", cwd=tmp_path, **rotated)
        )
        # Once the CLI has connected, its first batch follows within milliseconds; it meets
        # only the held row, and must still be trying seconds later, not finished with the
        # value left behind (which it did before, saying it had re-wrapped 0).
        connected = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND pid <> $1"
        )
        while not await watcher.fetchval(
            connected, holder.get_server_pid()
        ):  # outside the holder's transaction,
            # whose statistics views would keep showing the moment it first read them
            assert not rewrap.done(), (await rewrap).stdout
            await asyncio.sleep(0.02)
        await asyncio.sleep(3.0)
        assert not rewrap.done(), (await rewrap).stdout
        await held.rollback()
        done = await rewrap
    finally:
        await holder.close()
        await watcher.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "re-wrapped 1 data key(s)" in done.stdout
