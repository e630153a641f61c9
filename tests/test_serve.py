"""``python -m app.serve``'s metrics folders: one per launcher, none left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.serve import METRICS_PREFIX, remove_orphaned_metrics_dirs


def _ended_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_folders_of_launchers_that_are_gone_are_removed(tmp_path: Path) -> None:
    orphaned = tmp_path / f"{METRICS_PREFIX}{_ended_pid()}-abc123"
    running = tmp_path / f"{METRICS_PREFIX}{os.getpid()}-def456"
    unrelated = tmp_path / "vault-metrics-notapid"
    for folder in (orphaned, running, unrelated):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"x")
    remove_orphaned_metrics_dirs(tmp_path)
    assert not orphaned.exists()
    assert running.exists()
    assert unrelated.exists()
