"""``python -m app.serve``: one worker on SQLite, and a private metrics folder per launcher;
any other way of starting a second server on one SQLite file stops at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.sqlite_server_lock import SqliteInUse, serving_sqlite_alone
from tests.replicas import ROOT

BIN = Path(sys.executable).parent


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


def test_uvicorn_with_two_workers_on_one_sqlite_file_stops_with_the_reason(
    tmp_path: Path,
) -> None:
    database = tmp_path / "vault.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update(VAULT_ENV="development", VAULT_DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    subprocess.run(
        [str(BIN / "alembic"), "upgrade", "head"], cwd=ROOT, env=env, check=True, timeout=60
    )
    env["VAULT_LOG_LEVEL"] = "WARNING"
    command = [str(BIN / "uvicorn"), "app.main:app", "--port", "0", "--workers", "2"]
    # It stops by itself (uvicorn ends every worker when one fails to start, with status 0).
    stopped = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert f"Another vault process is already serving the SQLite database {database}" in (
        stopped.stdout + stopped.stderr
    )


def test_the_serving_lock_is_per_file_and_released_when_serving_ends(tmp_path: Path) -> None:
    first = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, first], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "serving"
            with pytest.raises(SqliteInUse, match="use PostgreSQL"), serving_sqlite_alone(first):
                pass
            with serving_sqlite_alone(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"):
                pass  # another file: another lock
            with serving_sqlite_alone("sqlite+aiosqlite:///:memory:"):
                pass  # nothing to share
        finally:
            holder.kill()
    with serving_sqlite_alone(first), serving_sqlite_alone(first):
        pass  # the other process is gone; two apps of one process share the lock


HOLD_LOCK = """
import sys, time
from app.sqlite_server_lock import serving_sqlite_alone
with serving_sqlite_alone(sys.argv[1]):
    print("serving", flush=True)
    time.sleep(60)
"""


def test_the_lock_file_is_the_users_own_and_no_planted_link_is_followed(tmp_path: Path) -> None:
    with serving_sqlite_alone(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'a.db'}"):
        lock = tmp_path / "new" / "a.db.serving-lock"  # its folder made first
        assert lock.stat().st_mode & 0o777 == 0o600  # nobody else may open it, nor hold it
    target = tmp_path / "elsewhere"
    (tmp_path / "b.db.serving-lock").symlink_to(target)
    with (
        pytest.raises(SqliteInUse, match="cannot be opened"),
        serving_sqlite_alone(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"),
    ):
        pass
    assert not target.exists()
