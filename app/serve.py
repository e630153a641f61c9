"""``python -m app.serve``: run the vault under uvicorn with N workers and summed metrics.

With several workers each is its own process, so prometheus-client must keep its values in
files that any worker can sum when scraped. This launcher makes a private folder for them
(``tempfile``, mode 0700) and hands it to the workers through ``PROMETHEUS_MULTIPROC_DIR``
(read by prometheus-client) and ``VAULT_METRICS_DIR`` (read by the vault's settings) before
uvicorn starts them; the folder is removed when the launcher stops.

SQLite serves one process: the caches of one worker never hear of a change another worker
committed, so a revoked token could still be accepted. The launcher refuses more than one
worker on SQLite and says to use PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

import uvicorn

from app.config import get_settings
from app.db import is_sqlite
from app.ops.logging import UVICORN_LOG_CONFIG

METRICS_PREFIX = "vault-metrics-"
SQLITE_ONE_WORKER = (
    "SQLite serves one process, and {workers} workers would not see each other's changes "
    "(a revoked token could still be accepted). Run one worker (--workers 1), or use "
    "PostgreSQL (VAULT_DATABASE_URL=postgresql+asyncpg://...) for several workers or replicas."
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning", help="uvicorn's own log level")
    args = parser.parse_args(argv)
    if args.workers > 1 and is_sqlite(get_settings().database_url):
        parser.exit(2, f"error: {SQLITE_ONE_WORKER.format(workers=args.workers)}\n")
    with contextlib.ExitStack() as stack:
        if args.workers > 1:
            metrics_dir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix=METRICS_PREFIX, dir=_metrics_parent())
            )
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            os.environ["VAULT_METRICS_DIR"] = metrics_dir
        uvicorn.run(
            "app.main:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=False,  # the vault logs one JSON line per request itself
            log_config=UVICORN_LOG_CONFIG,
            # X-Forwarded-For is believed only from the peers in FORWARDED_ALLOW_IPS, which
            # uvicorn reads from the environment (loopback when unset).
            proxy_headers=True,
        )


def _metrics_parent() -> Path:
    """``/dev/shm`` when there is one. Every request writes its counters into these files'
    memory maps; on a disk-backed folder a write can wait for the kernel to write the page
    back, stalling a whole worker while the disk is busy (PostgreSQL's commits, say)."""
    shm = Path("/dev/shm")  # noqa: S108 - a tmpfs, and the folder made in it is private
    usable = shm.is_dir() and os.access(shm, os.W_OK)
    return shm if usable else Path(tempfile.gettempdir())


if __name__ == "__main__":
    main()
