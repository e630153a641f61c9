"""``vault-admin`` lists as operators use them: stored text printed as text (never as Rich
markup), ids whole in an 80-column terminal or a pipe, and ``--json`` for scripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.factories import oauth_body
from tests.test_cli import vault_admin_async

# A label an account-limited writer may set: once a crash, once a fake link, once a fake colour.
HOSTILE = ["Acme CA[/]", "[link=https://evil.example]revoke me[/link]", "[bold red]ok[/]"]


def _json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


@pytest.fixture
async def stored(client: httpx.AsyncClient) -> dict[str, list[str]]:
    credentials, clients = [], []
    for n, label in enumerate(HOSTILE):
        body = oauth_body(account_id=f"acct-{n}", label=label)
        credentials.append((await client.post("/v1/credentials", json=body)).json()["id"])
        made = await client.post("/v1/clients", json={"name": label, "scopes": ["audit:read"]})
        clients.append(made.json()["id"])
    return {"credentials": credentials, "clients": clients}


@pytest.mark.parametrize("what", ["credentials", "clients"])
async def test_stored_markup_is_printed_as_text(
    settings: Settings, tmp_path: Path, stored: dict[str, list[str]], what: str
) -> None:
    listed = await vault_admin_async(settings, what, "list", cwd=tmp_path, COLUMNS="250")
    assert listed.returncode == 0, listed.stderr
    for label in HOSTILE:
        assert label in listed.stdout
    assert "\x1b]8;" not in listed.stdout  # no terminal hyperlink was made


@pytest.mark.parametrize("what", ["credentials", "clients"])
async def test_ids_are_whole_in_80_columns(
    settings: Settings, tmp_path: Path, stored: dict[str, list[str]], what: str
) -> None:
    listed = await vault_admin_async(settings, what, "list", cwd=tmp_path, COLUMNS="80")
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout
    for item_id in stored[what]:
        assert item_id in listed.stdout


async def test_every_list_has_json_lines(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path, stored: dict[str, list[str]]
) -> None:
    credentials = _json_lines(
        (await vault_admin_async(settings, "credentials", "list", "--json", cwd=tmp_path)).stdout
    )
    assert [c["id"] for c in credentials] == list(reversed(stored["credentials"]))
    assert [c["label"] for c in credentials] == list(reversed(HOSTILE))
    clients = _json_lines(
        (await vault_admin_async(settings, "clients", "list", "--json", cwd=tmp_path)).stdout
    )
    assert set(stored["clients"]) <= {c["id"] for c in clients}
    assert "token" not in clients[0]
    events = _json_lines(
        (
            await vault_admin_async(
                settings, "audit", "tail", "--json", "--limit", "3", cwd=tmp_path
            )
        ).stdout
    )
    api = (await client.get("/v1/audit", params={"limit": 3})).json()["items"]
    assert [e["id"] for e in events] == [e["id"] for e in api]
    keks = _json_lines(
        (await vault_admin_async(settings, "kek", "status", "--json", cwd=tmp_path)).stdout
    )
    assert sum(k["data_keys"] for k in keks) == len(HOSTILE)


LISTING_COMMANDS = {"list", "tail", "status", "expiring"}


def test_every_listing_command_takes_json() -> None:
    import typer

    from app.cli.main import cli

    root = typer.main.get_command(cli)
    listings = []
    for group_name, group in getattr(root, "commands", {}).items():
        for name, command in getattr(group, "commands", {}).items():
            if name in LISTING_COMMANDS:
                listings.append(f"{group_name} {name}")
                assert any("--json" in p.opts for p in command.params), f"{group_name} {name}"
    assert len(listings) >= 6, listings
