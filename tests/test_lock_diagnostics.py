"""The test setup's account of who holds SQLite's locks, when its wait for them runs out."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests import sqlite_locks

HOLD = "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('BEGIN IMMEDIATE')"
TABLE = """\
1: POSIX  ADVISORY  WRITE 3794 fe:00:1474578 0 EOF
2: -> POSIX  ADVISORY  WRITE 4000 fe:00:1474578 0 EOF
3: OFDLCK ADVISORY  READ  -1 00:2a:77 128 128
4: FLOCK  ADVISORY  WRITE 5000 fe:00:99 0 EOF
5: POSIX  ADVISORY  READ  6000 fe:01:77 120 120
"""
FILES = {(0xFE, 0, 1474578): "database", (0, 0x2A, 77): "-shm"}


def test_the_lock_table_is_read_for_the_database_files_only() -> None:
    assert sqlite_locks.held(TABLE, FILES) == [
        sqlite_locks.Lock("POSIX", "WRITE", "3794", "database", "0-EOF", exact=True),
        # the waiter on line 2 holds nothing; line 4 is another file
        sqlite_locks.Lock("OFDLCK", "READ", "-1", "-shm", "128-128", exact=True),
        sqlite_locks.Lock("POSIX", "READ", "6000", "-shm", "120-120", exact=False),
    ]


@pytest.mark.skipif(not sqlite_locks.LOCK_TABLE.exists(), reason="no /proc/locks here")
def test_a_lock_held_here_or_by_another_process_is_named(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")  # as the vault runs it
    connection.execute("CREATE TABLE t (x)")
    connection.execute("BEGIN IMMEDIATE")
    mine = sqlite_locks.holders(str(path))
    assert any("WRITE" in h and "(this process)" in h for h in mine), mine
    connection.execute("ROLLBACK")
    connection.close()
    assert sqlite_locks.holders(str(path)) == []
    with subprocess.Popen(
        [sys.executable, "-c", HOLD + "; print('held', flush=True); time.sleep(30)", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        try:
            assert other.stdout is not None
            assert other.stdout.readline() == "held\n"
            theirs = sqlite_locks.holders(str(path))
            assert any("WRITE" in h and f"by {other.pid} (" in h for h in theirs), theirs
        finally:
            other.kill()


def test_the_account_never_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "vault.db").touch()
    monkeypatch.setattr(sqlite_locks, "LOCK_TABLE", tmp_path / "no-lock-table")
    assert sqlite_locks.holders(str(tmp_path / "vault.db")) == ["unavailable (FileNotFoundError)"]
