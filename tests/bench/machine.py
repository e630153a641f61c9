"""CPU accounting on a shared machine: is the vault idle yet, and is anything else running?

On a 2-core box another process (a test suite, a build) changes every number, and not equally
for every target. So each load run also measures the *other load*: the machine's busy CPU
time (/proc/stat) minus what this benchmark's own processes used - this process and its
descendants (servers, workers, wrk; reaped children included) and the PostgreSQL processes
serving the bench database (its backends and its server's background processes).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
QUIET = 0.25  # cores of other load below which a run counts as undisturbed
_BACKEND = re.compile(r"\d+\(\d+\)|\[local\]")  # "postgres: ... user db 127.0.0.1(5432) idle"


def _stat(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from "state" on: ppid is [1], utime [11]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes themselves."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def wait_idle(
    pids: list[int], *, busy: float = 0.05, window: float = 0.5, limit: float = 120
) -> float:
    """Wait until the processes together use less than ``busy`` of a core over ``window``
    seconds (the vault writes its audit backlog after a load ends); returns the seconds waited."""
    started = time.monotonic()
    before = cpu_seconds(pids)
    while time.monotonic() - started < limit:
        time.sleep(window)
        after = cpu_seconds(pids)
        if after - before < busy * window:
            break
        before = after
    return time.monotonic() - started


def machine_busy() -> float:
    """CPU seconds spent in processes (user, nice, system) since boot, all cores together.
    Interrupt and softirq time is left out: on loopback it is mostly this benchmark's own
    network traffic, and the kernel charges it to no process."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4]]
    return sum(fields) / TICKS


def _processes(database: str) -> tuple[dict[int, int], dict[int, float]]:
    """Every process's parent, and the CPU seconds so far of each PostgreSQL process serving
    ``database``: its backends, and the background processes of the server they belong to
    (not those of another server on the machine)."""
    parents: dict[int, int] = {}
    backends: dict[int, float] = {}
    background: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        if fields is None:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("postgres"):
            seconds = (int(fields[11]) + int(fields[12])) / TICKS
            if not _BACKEND.search(cmdline):
                background[pid] = seconds
            elif database in cmdline:
                backends[pid] = seconds
    servers = {parents[pid] for pid in backends}
    return parents, backends | {p: t for p, t in background.items() if parents[p] in servers}


def postgres_times(database: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL process serving ``database``."""
    return _processes(database)[1]


def spent_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes of ``after`` used since ``before`` was read. A process that
    exited meanwhile is left out, losing its time since then. (A difference of sums would
    instead charge its whole past against the others: a pooled connection closed for
    idleness mid-run once made a run's PostgreSQL CPU read as nothing.)"""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def ours(database: str) -> tuple[float, dict[int, float]]:
    """CPU seconds used so far by this benchmark's own process tree (see the module
    docstring), and by each PostgreSQL process serving it (for ``spent_between``)."""
    parents, postgres = _processes(database)
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier += children
    total = 0.0
    for pid in tree:
        fields = _stat(pid)
        if fields is not None:  # own time and that of reaped children (wrk, exited workers)
            total += sum(int(v) for v in fields[11:15]) / TICKS
    return total, {pid: t for pid, t in postgres.items() if pid not in tree}


class OtherLoad:
    """``with OtherLoad(db) as other: ...`` then ``other.cores``: the average number of cores
    that processes outside the benchmark kept busy meanwhile."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.cores = 0.0

    def __enter__(self) -> OtherLoad:
        self._start = (time.monotonic(), machine_busy(), ours(self.database))
        return self

    def __exit__(self, *_exc: object) -> None:
        started, busy, (tree, postgres) = self._start
        elapsed = time.monotonic() - started
        tree_now, postgres_now = ours(self.database)
        mine = (tree_now - tree) + spent_between(postgres, postgres_now)
        other = (machine_busy() - busy) - mine
        self.cores = max(0.0, other / elapsed) if elapsed > 0 else 0.0


def wait_quiet(database: str, *, window: float = 2.0, limit: float = 120) -> float:
    """Wait (up to ``limit``) until other processes use less than ``QUIET`` cores; the wait."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with OtherLoad(database) as other:
            time.sleep(window)
        if other.cores < QUIET:
            break
    return time.monotonic() - started
