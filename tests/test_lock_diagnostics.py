"""The test setup's account of who holds SQLite's lock, when its wait for it runs out."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import _lock_holders

HOLD = "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('BEGIN IMMEDIATE')"


def test_a_lock_held_here_or_by_another_process_is_named(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    url = f"sqlite+aiosqlite:///{path}"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("CREATE TABLE t (x)")
    assert _lock_holders(url) == []
    connection.execute("BEGIN IMMEDIATE")
    assert any("(this process)" in holder for holder in _lock_holders(url))
    connection.execute("ROLLBACK")
    connection.close()
    with subprocess.Popen(
        [sys.executable, "-c", HOLD + "; print('held', flush=True); time.sleep(30)", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        try:
            assert other.stdout is not None
            assert other.stdout.readline() == "held\n"
            holders = _lock_holders(url)
            assert any(f"by {other.pid} (" in h and "BEGIN IMMEDIATE" in h for h in holders), (
                holders
            )
        finally:
            other.kill()
