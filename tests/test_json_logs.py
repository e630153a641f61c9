"""Every line a vault process writes is JSON, uvicorn's own and unhandled errors included, and
none carries an exception's message or a request's path."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BOOTSTRAP_TOKEN, ROOT, migrate
from tests.json_logs_app import DATA_IN_ERROR
from tests.replicas import _wait_ready, free_port
from tests.walmart_sim import SimulatorServer

pytestmark = pytest.mark.slow
LINK_TOKEN = "link-token-that-must-not-be-logged-8c2e"


def _vault_env(url: str, local_keks: str, walmart: SimulatorServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update(
        VAULT_ENV="production",
        VAULT_DATABASE_URL=url,
        VAULT_LOCAL_KEKS=local_keks,
        VAULT_BOOTSTRAP_TOKEN=BOOTSTRAP_TOKEN,
        VAULT_WALMART_PRODUCTION_URL=walmart.base_url,
        VAULT_WALMART_ALLOW_HTTP="true",
        VAULT_WALMART_SANDBOX_URL=walmart.base_url,
    )
    return env


def _exercise(url: str, port: int) -> None:
    assert httpx.get(f"{url}/boom").status_code == 500
    assert httpx.get(f"{url}/intake/{LINK_TOKEN}").status_code in (404, 410)
    with socket.create_connection(("127.0.0.1", port)) as raw:  # not HTTP at all
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        raw.recv(1024)


def _lines(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert line.startswith("{"), f"not a JSON line: {line!r}"
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "uvicorn", "tests.json_logs_app:app", "--log-level", "info"],
        ["-m", "app.serve", "--log-level", "info", "--workers", "1"],  # SQLite: one worker
    ],
    ids=["uvicorn-cli", "app.serve"],
)
def test_every_line_is_json_without_exception_text(
    local_keks: str, walmart: SimulatorServer, tmp_path: Path, command: list[str]
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}"
    migrate(database)
    port = free_port()
    log_path = tmp_path / "vault.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=_vault_env(database, local_keks, walmart),
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path.read_text)
        if "tests.json_logs_app:app" in command:
            _exercise(url, port)
        else:
            assert httpx.get(f"{url}/intake/{LINK_TOKEN}").status_code in (404, 410)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    output = log_path.read_text()
    entries = _lines(output)
    assert DATA_IN_ERROR not in output
    assert LINK_TOKEN not in output
    assert "Traceback" not in output
    loggers = {e["logger"] for e in entries}
    assert "uvicorn.error" in loggers
    if "tests.json_logs_app:app" in command:
        unhandled = [e for e in entries if e.get("exception") == "RuntimeError"]
        assert {e["logger"] for e in unhandled} >= {"uvicorn.error"}
