"""``python -m app.serve``: one worker on SQLite, and a private metrics folder per launcher."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.replicas import ROOT


def _serve(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env["VAULT_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "app.serve", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_more_than_one_worker_on_sqlite_is_refused_naming_postgresql() -> None:
    refused = _serve("--workers", "2", database_url="sqlite+aiosqlite:///./var/never.db")
    assert refused.returncode == 2
    assert "SQLite serves one process" in refused.stderr
    assert "PostgreSQL" in refused.stderr
    assert "--workers 1" in refused.stderr


def test_the_docker_image_default_keeps_one_worker_on_its_sqlite_default() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "VAULT_DATABASE_URL=sqlite" in dockerfile
    assert "--workers ${VAULT_WORKERS:-1}" in dockerfile
