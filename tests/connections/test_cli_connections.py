"""``vault-admin connections``: an operator registers the app, makes a link for a seller,
and sees the connection and its refresh token's expiry."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from app.cli.paging import PAGE_SIZE
from app.config import Settings
from app.credentials.models import Credential
from app.state import AppState
from tests.connections.conftest import PUBLIC_URL
from tests.connections.flow import APP_CLIENT_ID, APP_SECRET, CALLBACK, callback, consent
from tests.factories import oauth_body
from tests.test_cli import VAULT_ADMIN, cli_env
from tests.walmart_sim import SimulatorControl


async def vault_admin(
    settings: Settings, *args: str, cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """The CLI off the event loop, so the test's in-process app keeps serving (and ends any
    SQLite write it is in the middle of) while the CLI waits for the database."""
    env = cli_env(
        settings,
        VAULT_PUBLIC_URL=PUBLIC_URL,
        VAULT_WALMART_CONSENT_URL=str(settings.walmart_consent_url),
    )
    return await asyncio.to_thread(
        subprocess.run,
        [str(VAULT_ADMIN), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_an_operator_connects_a_seller_from_the_command_line(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    settings: Settings,
    tmp_path: Path,
) -> None:
    walmart_control.add_app(APP_CLIENT_ID, APP_SECRET, [PUBLIC_URL + CALLBACK])
    added = await vault_admin(
        settings,
        "connections",
        "add-app",
        "--client-id",
        APP_CLIENT_ID,
        cwd=tmp_path,
        stdin=APP_SECRET + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert PUBLIC_URL + CALLBACK in added.stdout
    assert APP_SECRET not in added.stdout + added.stderr

    created = await vault_admin(
        settings,
        "connections",
        "create",
        "--account",
        "acme-001",
        "--label",
        "Acme",
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    consent_url = created.stdout.strip().splitlines()[-1]
    assert consent_url.startswith(str(settings.walmart_consent_url))
    page = await callback(client, await consent(consent_url))
    assert page.status_code == 200, page.text

    listed = await vault_admin(settings, "connections", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "connected" in listed.stdout
    assert "acme-001" in listed.stdout
    expiring = await vault_admin(settings, "connections", "expiring", "--days", "400", cwd=tmp_path)
    assert "acme-001" in expiring.stdout
    soon = await vault_admin(settings, "connections", "expiring", "--days", "30", cwd=tmp_path)
    assert "acme-001" not in soon.stdout

    refused = await vault_admin(
        settings,
        "connections",
        "create",
        "--account",
        "acme-001",
        "--label",
        "Acme",
        "--market",
        "CL",
        cwd=tmp_path,
    )
    assert refused.returncode == 1
    assert "error" in refused.stderr


async def test_expiring_lists_every_credential_past_one_page(
    client: httpx.AsyncClient, vault_state: AppState, settings: Settings, tmp_path: Path
) -> None:
    count = PAGE_SIZE + 5
    for n in range(count):
        made = await client.post("/v1/credentials", json=oauth_body(account_id=f"acct-{n:03}"))
        assert made.status_code == 201, made.text
    ends = datetime.now(UTC) + timedelta(days=10)
    async with vault_state.engine.begin() as connection:
        await connection.execute(update(Credential).values(refresh_expires_at=ends))

    listed = await vault_admin(settings, "connections", "expiring", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    accounts = [json.loads(line)["account_id"] for line in listed.stdout.splitlines()]
    assert sorted(accounts) == [f"acct-{n:03}" for n in range(count)]  # each once, none cut
    table = await vault_admin(settings, "connections", "expiring", cwd=tmp_path)
    assert f": {count}" in table.stdout  # the title says how many
