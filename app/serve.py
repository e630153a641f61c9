"""``python -m app.serve``: run the vault under uvicorn with N workers and summed metrics.

With several workers each is its own process, so prometheus-client must keep its values in
files that any worker can sum when scraped. This launcher makes a fresh folder for them and
hands it to the workers through ``PROMETHEUS_MULTIPROC_DIR`` (read by prometheus-client) and
``VAULT_METRICS_DIR`` (read by the vault's settings) before uvicorn starts them. The folder is
named after the launcher's pid and removed when it stops; a launcher that was killed leaves its
folder behind, so the next one removes those whose launcher is gone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

from app.ops.http_protocol import CoalescingHttpToolsProtocol


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning", help="uvicorn's own log level")
    args = parser.parse_args(argv)
    metrics_dir = None
    if args.workers > 1:
        parent = Path(_memory_backed_dir() or tempfile.gettempdir())
        remove_orphaned_metrics_dirs(parent)
        metrics_dir = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-", dir=parent)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        os.environ["VAULT_METRICS_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "app.main:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=False,  # the vault logs one JSON line per request itself
            proxy_headers=True,
            http=CoalescingHttpToolsProtocol,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


METRICS_PREFIX = "vault-metrics-"


def remove_orphaned_metrics_dirs(parent: Path) -> None:
    """Remove metrics folders whose launcher no longer runs (a pid that was reused keeps
    its folder: harmless, it is only left for later)."""
    for folder in parent.glob(f"{METRICS_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _memory_backed_dir() -> str | None:
    """``/dev/shm`` when there is one. Every request writes its counters into these files'
    memory maps; on a disk-backed folder a write can wait for the kernel to write the page back,
    and the benchmark saw such waits (while PostgreSQL's commits kept the disk busy) as
    100-500 ms stalls of whole workers."""
    shm = Path("/dev/shm")  # noqa: S108 - a tmpfs, not a shared temporary folder
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


if __name__ == "__main__":
    main()
