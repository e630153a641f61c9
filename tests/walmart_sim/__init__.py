"""A Walmart Marketplace simulator: a real HTTP server on loopback for tests, benchmarks, demo.

Walmart cannot be reached from CI, and an in-process mock would hide the very bugs that
matter for a vault that hands out signed headers: URL bytes re-encoded between signing and
sending, headers dropped by an HTTP client, timeouts and connection resets. So this is a
Starlette app served by uvicorn over TCP, implementing Walmart's side from Walmart's public
documentation alone (cited where each rule is implemented). It deliberately imports nothing from
``app/``: an independent implementation is what lets it catch the vault's mistakes.

Layout:

* :mod:`.walmart_api` - ``POST /v3/token``, ``GET /v3/token/detail``, OAuth ``/v3/...``;
  :mod:`.signed_api` - signed ``/v3/ca/...``; :mod:`.signature` - verification over the
  wire URL; :mod:`.gateway` - shared header checks; :mod:`.errors` - Walmart error bodies;
* :mod:`.control_api` - ``/_sim/...`` endpoints tests use to register keys, inject faults,
  change settings and read counters (bodies validated by :mod:`.parsing`);
  :mod:`.control` - typed sync/async httpx clients for them;
* :mod:`.middleware` - fault injection and the bounded request log;
* :mod:`.state` / :mod:`.models` - the single state object each app instance owns;
* :mod:`.server` - :class:`SimulatorServer` (thread); :mod:`.process` -
  :func:`start_subprocess` / :class:`SimulatorProcess`; ``python -m tests.walmart_sim`` runs
  it in the foreground;
* :mod:`.testkit` - the caller's half of Walmart auth, for the simulator's own tests.

Typical use::

    with SimulatorServer() as sim, SimulatorControl(sim.base_url) as control:
        control.add_oauth_client("cid", "secret")
        ...  # point the vault's VAULT_WALMART_*_URL at sim.base_url
"""

from .app import create_app
from .control import AsyncSimulatorControl, SimulatorControl, SimulatorControlError
from .process import SimulatorProcess, start_subprocess, stop_subprocess
from .server import SimulatorServer
from .state import SimulatorState

__all__ = [
    "AsyncSimulatorControl",
    "SimulatorControl",
    "SimulatorControlError",
    "SimulatorProcess",
    "SimulatorServer",
    "SimulatorState",
    "create_app",
    "start_subprocess",
    "stop_subprocess",
]
