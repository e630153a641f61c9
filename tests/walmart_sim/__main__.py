"""``python -m tests.walmart_sim [--host H] [--port N] [--seed-file seed.json]``.

Runs the simulator in the foreground for the local demo and for benchmarks. Once the socket
is bound it prints exactly one line, ``Walmart simulator listening on http://H:N``, to
stdout (``--port 0`` picks a free port; the line tells which). uvicorn's access log is off:
at benchmark rates it would cost more than the simulated API. Ctrl-C / SIGTERM shut it down
gracefully. The seed file uses the control API's shapes (see :mod:`.control_api`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import uvicorn

from .app import create_app
from .parsing import BadInput, apply_seed
from .state import SimulatorState


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.walmart_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--seed-file", type=Path, help="JSON with oauth_clients/consumers/...")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


async def _serve(server: uvicorn.Server, host: str) -> None:
    # Serve as a task so the URL line can be printed after binding, with the real port.
    task = asyncio.create_task(server.serve())
    # uvicorn exposes only a "started" flag, no event to wait on, hence the short poll.
    while not server.started and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    if server.started:
        port = server.servers[0].sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        print(f"Walmart simulator listening on http://{shown}:{port}", flush=True)
    await task


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    state = SimulatorState()
    if args.seed_file is not None:
        try:
            seed = json.loads(args.seed_file.read_text(encoding="utf-8"))
            if not isinstance(seed, dict):
                raise BadInput("seed file must hold a JSON object")
            apply_seed(state, seed)
        except (OSError, ValueError) as exc:  # BadInput and JSONDecodeError are ValueErrors
            print(f"cannot load seed file {args.seed_file}: {exc}", file=sys.stderr)
            return 2
    config = uvicorn.Config(
        create_app(state),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    # Same loop choice uvicorn.run would make (uvloop when installed).
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve(server, args.host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
