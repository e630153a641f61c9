"""``python -m tests.bench``: see :mod:`tests.bench` and ``--help``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from .runner import Options, main

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "last-run.txt"


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Benchmark the vault's headers hot path against OpenBao Transit and a "
        "bare FastAPI signer, plus a scale run with many credentials and webhook delivery "
        "latency.",
    )
    parser.add_argument("--duration", type=float, default=20, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every target")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--warmup", type=float, default=3, help="unscored seconds per target")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (vault, ceiling)")
    parser.add_argument("--scale", type=int, default=100_000, help="credentials in the scale run")
    parser.add_argument("--skip-scale", action="store_true", help="no scale run")
    parser.add_argument(
        "--scale-only", action="store_true", help="only the scale run (no main rounds)"
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=120,
        metavar="SECONDS",
        help="longest wait for other processes to go quiet before each run",
    )
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="run on this PostgreSQL server (postgresql://user@host:port, no password in it:"
        " PGPASSWORD or ~/.pgpass) as it is configured, instead of starting the bench's own"
        " (1 GB shared_buffers, see README 'Sizing PostgreSQL'); its CPU is read from /proc,"
        " so it must run on this machine",
    )
    parser.add_argument("--batch", type=int, default=500, help="credentials per transaction")
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        metavar="SECONDS",
        help="py-spy one vault worker during an extra sig2048 run (needs py-spy and ptrace)",
    )
    parser.add_argument(
        "--vault-setting",
        action="append",
        default=[],
        metavar="VAULT_NAME=VALUE",
        help="a vault setting for this run (repeatable), e.g. VAULT_KEY_CACHE_MB=16",
    )
    parser.add_argument(
        "--webhook-events", type=int, default=1000, help="events in the webhook latency run"
    )
    parser.add_argument("--webhook-rate", type=float, default=100, help="webhook events per second")
    parser.add_argument(
        "--only-webhooks", action="store_true", help="only the webhook delivery latency run"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="report file")
    parser.add_argument("--keep-logs", action="store_true", help="keep the work directory")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 3 s runs, 1 round, 2,000 credentials"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.warmup = 3.0, 1, 1.0
        args.scale = min(args.scale, 2_000)
        args.webhook_events = min(args.webhook_events, 200)
    for setting in args.vault_setting:
        if not setting.startswith("VAULT_") or "=" not in setting:
            parser.error(f"--vault-setting takes VAULT_NAME=VALUE, not {setting!r}")
        if setting.startswith("VAULT_DATABASE_URL="):
            # The bench writes to its database with no vault in between (bulk import, audit
            # rows, VACUUM): only ever to the one it created; --postgres-url picks the server.
            parser.error("--vault-setting cannot set VAULT_DATABASE_URL: use --postgres-url")
    if args.postgres_url and make_url(args.postgres_url).password:
        parser.error("--postgres-url: leave the password out (PGPASSWORD or ~/.pgpass)")
    if args.scale_only and args.skip_scale:
        parser.error("--scale-only and --skip-scale leave nothing to run")
    if args.scale < 200 and not args.skip_scale:
        parser.error("--scale must be at least 200 (100 of them form the small database)")
    return Options(
        duration=args.duration,
        rounds=args.rounds,
        concurrency=args.concurrency,
        threads=args.threads,
        warmup=args.warmup,
        workers=args.workers,
        scale=args.scale,
        skip_scale=args.skip_scale,
        scale_only=args.scale_only,
        postgres_url=args.postgres_url,
        max_wait=args.max_wait,
        batch=args.batch,
        profile=args.profile,
        output=args.output,
        keep_logs=args.keep_logs,
        strict=args.strict,
        vault_settings=tuple(args.vault_setting),
        webhook_events=args.webhook_events,
        webhook_rate=args.webhook_rate,
        webhooks_only=args.only_webhooks,
    )


if __name__ == "__main__":
    sys.exit(main(parse()))
