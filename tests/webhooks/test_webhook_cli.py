"""``vault-admin webhooks list|test`` as a real process beside the running vault."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from app.config import Settings
from tests.test_cli import vault_admin
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver


async def test_list_and_test_commands(
    client: httpx.AsyncClient, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid", description="front end")
    listed = await asyncio.to_thread(vault_admin, settings, "webhooks", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert hook["id"] in listed.stdout
    assert "credential.invalid" in listed.stdout
    assert hook["secret"] not in listed.stdout
    tested = await asyncio.to_thread(
        vault_admin, settings, "webhooks", "test", hook["id"], cwd=tmp_path
    )
    assert tested.returncode == 0, tested.stderr
    assert "status 204" in tested.stdout
    (delivery,) = await receiver.wait_for(1)
    assert delivery.verify(hook["secret"])["type"] == "webhook.test"
    await client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False})
    refused = await asyncio.to_thread(
        vault_admin, settings, "webhooks", "test", hook["id"], cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "disabled" in refused.stderr
