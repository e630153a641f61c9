"""Who holds the locks on an SQLite database's files, from the kernel's lock table.

For the test setup's error when the database stays locked: "this process" (a connection left
open) or another process, with its command line (a vault or CLI a test left running). In WAL
mode every open connection holds a read lock on ``-shm``; the writer is the one with a WRITE
lock, so each lock is shown with its byte range.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import NamedTuple

LOCK_TABLE = Path("/proc/locks")
SUFFIXES = ("", "-journal", "-wal", "-shm")


class Lock(NamedTuple):
    kind: str  # POSIX, OFDLCK, FLOCK
    mode: str  # READ, WRITE
    pid: str  # -1 for an open-file-description lock
    file: str  # which of the database's files
    span: str  # "start-end" in bytes
    exact: bool  # device and inode both matched (not the inode alone)


def held(lock_table: str, files: dict[tuple[int, int, int], str]) -> list[Lock]:
    """The locks in ``lock_table`` (the text of /proc/locks) on ``files``, keyed by (major,
    minor, inode). Waiters (``->`` lines) hold nothing and are left out."""
    inodes = {inode: name for (_major, _minor, inode), name in files.items()}
    found = []
    for line in lock_table.splitlines():
        fields = line.split()  # "1: POSIX ADVISORY WRITE <pid> <maj:min:inode> <start> <end>"
        if len(fields) < 8 or fields[1] == "->":
            continue
        major, minor, inode = fields[5].split(":")
        key = (int(major, 16), int(minor, 16), int(inode))
        name = files.get(key) or inodes.get(key[2])
        if name is not None:
            exact = key in files
            found.append(
                Lock(fields[1], fields[3], fields[4], name, f"{fields[6]}-{fields[7]}", exact)
            )
    return found


def holders(database: str) -> list[str]:
    """Each lock on the database's files, said in words; best effort (never raises)."""
    try:
        files = {}
        for suffix in SUFFIXES:
            with contextlib.suppress(FileNotFoundError):
                stat = os.stat(database + suffix)
                files[(os.major(stat.st_dev), os.minor(stat.st_dev), stat.st_ino)] = (
                    suffix or "database"
                )
        return [_said(lock) for lock in held(LOCK_TABLE.read_text(), files)]
    except Exception as exc:  # a diagnostic must not hide the error it explains
        return [f"unavailable ({type(exc).__name__})"]


def _said(lock: Lock) -> str:
    where = "" if lock.exact else " (inode match only)"
    return f"{lock.kind} {lock.mode} {lock.span} on {lock.file}{where} by {_process(lock.pid)}"


def _process(pid: str) -> str:
    if pid == "-1":
        return "an open file description (no pid)"
    if pid == str(os.getpid()):
        return f"{pid} (this process)"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        command = "?"
    return f"{pid} ({command[:300].strip()})"
