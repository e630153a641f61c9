"""``python -m app.serve``: run the vault under uvicorn with N workers and summed metrics.

With several workers each is its own process, so prometheus-client must keep its values in
files that any worker can sum when scraped. This launcher makes a fresh folder for them and
hands it to the workers through ``PROMETHEUS_MULTIPROC_DIR`` (read by prometheus-client) and
``VAULT_METRICS_DIR`` (read by the vault's settings) before uvicorn starts them.

The launcher removes its folder when it stops. One that was killed leaves its folder behind,
so each launcher also removes the folders nobody holds: a launcher holds an exclusive lock on
its folder's lock file for as long as it runs. A lock, not a pid: containers sharing
``/dev/shm`` see each other's folders but not each other's pids, and a launcher that is pid 1
in its container has the same pid after every restart.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from app.ops.http_protocol import CoalescingHttpToolsProtocol
from app.ops.logging import UVICORN_LOG_CONFIG

METRICS_PREFIX = "vault-metrics-"
LOCK_FILE = ".launcher.lock"
UNLOCKED_GRACE_SECONDS = 60


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning", help="uvicorn's own log level")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        if args.workers > 1:
            metrics_dir = stack.enter_context(held_metrics_dir(_metrics_parent()))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            os.environ["VAULT_METRICS_DIR"] = str(metrics_dir)
        uvicorn.run(
            "app.main:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=False,  # the vault logs one JSON line per request itself
            log_config=UVICORN_LOG_CONFIG,
            proxy_headers=True,
            http=CoalescingHttpToolsProtocol,
        )


@contextlib.contextmanager
def held_metrics_dir(parent: Path) -> Iterator[Path]:
    """A new metrics folder in ``parent``, locked while in use and removed afterwards; folders
    in ``parent`` that no launcher holds any more are removed first."""
    remove_orphaned_metrics_dirs(parent)
    folder = Path(tempfile.mkdtemp(prefix=METRICS_PREFIX, dir=parent))
    try:
        # Locked under another name, then renamed: another launcher's clean-up must never
        # find the lock file unlocked.
        with (folder / f"{LOCK_FILE}.new").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            (folder / f"{LOCK_FILE}.new").rename(folder / LOCK_FILE)
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_orphaned_metrics_dirs(parent: Path) -> None:
    """Remove the metrics folders whose lock nobody holds. A folder without a lock file is
    left alone for a minute, as its launcher may be creating it; after that it belongs to a
    launcher that died first, or to a vault from before these locks."""
    for folder in parent.glob(f"{METRICS_PREFIX}*"):
        try:
            with (folder / LOCK_FILE).open("r") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                if time.time() - folder.stat().st_mtime > UNLOCKED_GRACE_SECONDS:
                    shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # held by its launcher (BlockingIOError), or not ours to open
            continue


def _metrics_parent() -> Path:
    """``/dev/shm`` when there is one. Every request writes its counters into these files'
    memory maps; on a disk-backed folder a write can wait for the kernel to write the page back,
    and the benchmark saw such waits (while PostgreSQL's commits kept the disk busy) as
    100-500 ms stalls of whole workers."""
    shm = Path("/dev/shm")  # noqa: S108 - a tmpfs, not a shared temporary folder
    usable = shm.is_dir() and os.access(shm, os.W_OK)
    return shm if usable else Path(tempfile.gettempdir())


if __name__ == "__main__":
    main()
