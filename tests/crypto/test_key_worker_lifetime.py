"""No key-check process outlives its owner, even one killed outright (SIGKILL, the OOM killer),
where no ``finally`` and no ``atexit`` runs: the forkserver and every pool process go too."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.factories import rsa_key, seller_center_key

ROOT = Path(__file__).resolve().parents[2]
GRACE_SECONDS = 5.0
# Owns a pool the way the app and the CLI do, parses one key so the pool's processes exist,
# says so, then waits to be killed.
OWNER = """
import asyncio, sys
from app.crypto.key_worker import key_check_pool, parse_private_key_in_worker

async def main() -> None:
    with key_check_pool():
        await parse_private_key_in_worker(sys.stdin.read())
        print("parsed", flush=True)
        await asyncio.sleep(120)

asyncio.run(main())
"""


def _stat(pid: int) -> tuple[str, int, int] | None:
    """State, parent pid and start time of a live process (zombies count as gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    state, parent, started = fields[0], int(fields[1]), int(fields[19])
    return None if state in ("Z", "X") else (state, parent, started)


def _descendants(root: int) -> dict[int, int]:
    """Every live process below ``root``, with its start time (pids get reused)."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[1], []).append(int(entry))
            started[int(entry)] = stat[2]
    found: dict[int, int] = {}
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        found[pid] = started[pid]
        pending += children.get(pid, [])
    return found


def _still_running(processes: dict[int, int]) -> list[str]:
    alive = []
    for pid, started in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[2] == started:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            alive.append(f"{pid} (parent {stat[1]}): {command.decode(errors='replace')[:120]}")
    return alive


def _read_line(owner: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert owner.stdout is not None
    ready, _, _ = select.select([owner.stdout], [], [], timeout)
    return owner.stdout.readline() if ready else b""


def test_a_killed_owner_leaves_no_pool_process_behind() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the killed owner's resource tracker warns about its locks
    )
    pool: dict[int, int] = {}
    try:
        assert owner.stdin is not None
        owner.stdin.write(seller_center_key(rsa_key()).encode())
        owner.stdin.close()
        assert _read_line(owner, timeout=60) == b"parsed\n"
        pool = _descendants(owner.pid)
        # The forkserver and at least one worker forked by it.
        assert len(pool) >= 2, f"expected pool processes below the owner, found {pool}"
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + GRACE_SECONDS
        while (alive := _still_running(pool)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive, f"pool processes outlived their killed owner: {alive}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        assert owner.stdout is not None
        owner.stdout.close()
        for pid, started in pool.items():  # a failure here must not leave orphans behind
            if (stat := _stat(pid)) is not None and stat[2] == started:
                os.kill(pid, signal.SIGKILL)
