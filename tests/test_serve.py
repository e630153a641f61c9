"""``python -m app.serve``'s metrics folders: one per launcher, none left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from app.serve import (
    LOCK_FILE,
    METRICS_PREFIX,
    UNLOCKED_GRACE_SECONDS,
    held_metrics_dir,
    remove_orphaned_metrics_dirs,
)

HOLD_ONE = """
import sys, time
from pathlib import Path
from app.serve import held_metrics_dir
with held_metrics_dir(Path(sys.argv[1])) as folder:
    print(folder, flush=True)
    time.sleep(60)
"""


def test_a_folder_is_held_while_in_use_and_removed_after(tmp_path: Path) -> None:
    with held_metrics_dir(tmp_path) as folder:
        assert (folder / LOCK_FILE).exists()
        remove_orphaned_metrics_dirs(tmp_path)  # held: kept
        assert folder.exists()
    assert not folder.exists()


def test_folders_nobody_holds_are_removed_and_others_kept(tmp_path: Path) -> None:
    # Another launcher, in its own process, holding its folder.
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_ONE, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as other:
        assert other.stdout is not None
        held = Path(other.stdout.readline().strip())
        killed = tmp_path / f"{METRICS_PREFIX}killed"  # its launcher died holding nothing
        killed.mkdir()
        (killed / LOCK_FILE).touch()
        being_made = tmp_path / f"{METRICS_PREFIX}new"  # no lock file yet
        being_made.mkdir()
        abandoned = tmp_path / f"{METRICS_PREFIX}old"  # no lock file for over a minute
        abandoned.mkdir()
        long_ago = time.time() - UNLOCKED_GRACE_SECONDS - 5
        os.utime(abandoned, (long_ago, long_ago))
        with held_metrics_dir(tmp_path) as ours:
            assert held.exists()
            assert being_made.exists()
            assert not abandoned.exists()
            assert not killed.exists()
            assert ours.exists()
        other.kill()
    remove_orphaned_metrics_dirs(tmp_path)  # its launcher is gone now
    assert not held.exists()
