"""``python -m app.serve``: run the vault under uvicorn with N workers and summed metrics.

With several workers each is its own process, so prometheus-client must keep its values in
files that any worker can sum when scraped. This launcher makes a fresh folder for them and
hands it to the workers through ``PROMETHEUS_MULTIPROC_DIR`` (read by prometheus-client) and
``VAULT_METRICS_DIR`` (read by the vault's settings) before uvicorn starts them.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning", help="uvicorn's own log level")
    args = parser.parse_args(argv)
    if args.workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="vault-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        os.environ["VAULT_METRICS_DIR"] = metrics_dir
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,  # the vault logs one JSON line per request itself
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
