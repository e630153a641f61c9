"""``vault-admin credentials import``: a real process on the service's database (SQLite and
PostgreSQL), checked through the API and the audit trail."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from tests.factories import CHANNEL_TYPE, new_rsa_key, oauth_body, signature_body
from tests.test_cli import vault_admin_async
from tests.walmart_sim import SimulatorControl

REJECTED = re.compile(r"^line (\d+): ([a-z_]+): (.+)$", re.MULTILINE)


def write_lines(path: Path, bodies: Sequence[dict[str, Any] | str]) -> Path:
    path.write_text("".join((b if isinstance(b, str) else json.dumps(b)) + "\n" for b in bodies))
    return path


def rejected(stderr: str) -> dict[int, str]:
    return {int(number): code for number, code, _ in REJECTED.findall(stderr)}


async def live(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    items = (await client.get("/v1/credentials", params={"limit": 200})).json()["items"]
    return {item["account_id"]: item for item in items}


def bad_bodies() -> list[dict[str, Any] | str]:
    """One line per kind of refusal the API knows, in the order of their line numbers."""
    truncated = signature_body(account_id="truncated")
    truncated["auth"]["private_key"] = truncated["auth"]["private_key"][:300]
    no_channel = oauth_body(account_id="mx-seller", market="MX")
    del no_channel["auth"]["channel_type"]
    us_signature = signature_body(account_id="us-signature", market="US")
    unknown_field = {**oauth_body(account_id="extra"), "colour": "blue"}
    sandbox_ca = signature_body(account_id="ca-sandbox", environment="sandbox")
    return ["{not json", truncated, no_channel, us_signature, unknown_field, sandbox_ca, "[]"]


async def test_bad_lines_are_refused_as_the_api_refuses_them(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    bodies = bad_bodies()
    good = [signature_body(account_id="good-ca"), oauth_body(account_id="good-us")]
    lines = write_lines(tmp_path / "sellers.jsonl", [good[0], *bodies, "", good[1]])
    result = await vault_admin_async(settings, "credentials", "import", str(lines), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    api_codes = {}
    for number, body in enumerate(bodies, start=2):
        answer = await client.post(
            "/v1/credentials",
            content=body if isinstance(body, str) else json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
        api_codes[number] = answer.json()["error"]["code"]
    assert rejected(result.stderr) == api_codes
    assert "9 lines: imported 2, already there 0, rejected 7" in result.stdout
    stored = await live(client)
    assert set(stored) == {"good-ca", "good-us"}
    assert stored["good-ca"]["status"] == "untested"
    for body in [*good, *bodies[1:4]]:
        assert isinstance(body, dict)
        secret = body["auth"].get("private_key") or body["auth"]["client_secret"]
        assert secret[:40] not in result.stdout + result.stderr


async def test_running_again_skips_what_is_there_and_refuses_another_key(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    bodies = [signature_body(account_id=f"seller-{n}", key=new_rsa_key()) for n in range(5)]
    first = write_lines(tmp_path / "first.jsonl", bodies[:3])
    done = await vault_admin_async(settings, "credentials", "import", str(first), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # The whole file, as after a stopped run; plus a line for a stored slot with another key,
    # and a line repeating one of this file's new ones.
    other_key = signature_body(account_id="seller-1", key=new_rsa_key())
    whole = write_lines(tmp_path / "whole.jsonl", [*bodies, other_key, bodies[4]])
    again = await vault_admin_async(
        settings, "credentials", "import", str(whole), "--batch-size", "2", cwd=tmp_path
    )
    assert again.returncode == 1
    assert rejected(again.stderr) == {6: "credential_exists"}
    assert "7 lines: imported 2, already there 4, rejected 1" in again.stdout
    stored = await live(client)
    assert sorted(stored) == [f"seller-{n}" for n in range(5)]
    assert stored["seller-1"]["fingerprint"] != ""
    events = (
        await client.get("/v1/audit", params={"action": "credential.created", "limit": 50})
    ).json()["items"]
    assert len(events) == 5
    assert all(e["details"]["source"] == "import" and e["client_id"] is None for e in events)
    assert {e["credential_id"] for e in events} == {c["id"] for c in stored.values()}
    verified = await vault_admin_async(settings, "audit", "verify", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    final = write_lines(tmp_path / "final.jsonl", bodies)
    rerun = await vault_admin_async(settings, "credentials", "import", str(final), cwd=tmp_path)
    assert rerun.returncode == 0
    assert "5 lines: imported 0, already there 5, rejected 0" in rerun.stdout


async def test_dry_run_validates_and_stores_nothing(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    lines = write_lines(
        tmp_path / "sellers.jsonl", [oauth_body(account_id="a"), "{", oauth_body(account_id="b")]
    )
    result = await vault_admin_async(
        settings, "credentials", "import", str(lines), "--dry-run", cwd=tmp_path
    )
    assert result.returncode == 1
    assert rejected(result.stderr) == {2: "validation_error"}
    assert "3 lines: would import 2, already there 0, rejected 1" in result.stdout
    assert await live(client) == {}
    events = (await client.get("/v1/audit", params={"action": "credential.created"})).json()
    assert events["items"] == []


async def test_live_tests_keep_only_what_walmart_accepts(
    client: httpx.AsyncClient,
    settings: Settings,
    tmp_path: Path,
    walmart_control: SimulatorControl,
) -> None:
    keys = [new_rsa_key() for _ in range(4)]
    bodies = [signature_body(account_id=f"tested-{n}", key=k) for n, k in enumerate(keys)]
    for body, key in zip(bodies[:3], keys[:3], strict=True):  # Walmart knows three of four
        walmart_control.add_consumer(body["auth"]["consumer_id"], key, channel_type=CHANNEL_TYPE)
    lines = write_lines(tmp_path / "sellers.jsonl", bodies)
    result = await vault_admin_async(
        settings,
        "credentials",
        "import",
        str(lines),
        "--test",
        "--concurrency",
        "2",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert rejected(result.stderr) == {4: "credential_test_failed"}
    stored = await live(client)
    assert sorted(stored) == ["tested-0", "tested-1", "tested-2"]
    assert {c["status"] for c in stored.values()} == {"valid"}
    assert all(c["last_test"]["outcome"] == "valid" for c in stored.values())
