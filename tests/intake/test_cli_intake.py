"""``vault-admin intake create|list|revoke`` as a real process on the service's database."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from app.config import Settings
from tests.conftest import PUBLIC_URL
from tests.intake.helpers import audit_actions
from tests.test_cli import vault_admin_async

CommandResult = subprocess.CompletedProcess[str]


async def create_link(
    settings: Settings, tmp_path: Path, *, market: str, label: str, **options: str
) -> CommandResult:
    """``vault-admin intake create`` for acme-ca, with extra flags and environment."""
    flags = [f"--{name}={value}" for name, value in options.items() if name == "hours"]
    env = {name: value for name, value in options.items() if name != "hours"}
    return await vault_admin_async(
        settings,
        "intake",
        "create",
        "--account",
        "acme-ca",
        "--market",
        market,
        "--label",
        label,
        *flags,
        cwd=tmp_path,
        **env,
    )


async def test_intake_commands(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    made = await create_link(
        settings,
        tmp_path,
        market="CA",
        label="Acme [bold]Canada[/]",
        hours="24",
        VAULT_PUBLIC_URL=PUBLIC_URL,
    )
    assert made.returncode == 0, made.stderr
    url = made.stdout.split("url (shown once): ")[1].split()[0]
    assert url.startswith(f"{PUBLIC_URL}/intake/mpvl_")
    link_id = made.stdout.split()[1]
    table = await vault_admin_async(settings, "intake", "list", cwd=tmp_path)
    assert link_id in table.stdout
    assert "Acme [bold]Canada[/]" in table.stdout  # stored text is shown, not rendered
    listed = await vault_admin_async(settings, "intake", "list", "--json", cwd=tmp_path)
    (item,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (item["id"], item["state"], item["kind"]) == (link_id, "active", "signature")
    assert url.rsplit("/", 1)[1] not in table.stdout + listed.stdout
    assert (
        await vault_admin_async(settings, "intake", "revoke", link_id, cwd=tmp_path)
    ).returncode == 0
    again = await vault_admin_async(settings, "intake", "revoke", link_id, cwd=tmp_path)
    assert again.returncode == 1
    assert "no longer works" in again.stderr
    api = (await client.get("/v1/intake-links")).json()["items"]
    assert [link["state"] for link in api] == ["revoked"]
    assert await audit_actions(client) == ["intake_link.created", "intake_link.revoked"]


async def test_create_needs_the_public_url_in_production(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    made = await create_link(settings, tmp_path, market="CA", label="Acme")
    assert made.returncode == 1
    assert "VAULT_PUBLIC_URL" in made.stderr
    bad = await create_link(
        settings, tmp_path, market="XX", label="Acme", VAULT_PUBLIC_URL=PUBLIC_URL
    )
    assert bad.returncode != 0
    assert "market" in bad.stderr
