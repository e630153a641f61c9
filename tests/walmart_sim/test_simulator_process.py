"""Running the simulator: thread server lifecycle, subprocess start, ``python -m`` entry point."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.walmart_sim import (
    AsyncSimulatorControl,
    SimulatorControl,
    SimulatorProcess,
    SimulatorServer,
    start_subprocess,
    stop_subprocess,
)
from tests.walmart_sim.process import PROJECT_ROOT
from tests.walmart_sim.testkit import basic, service_headers

pytestmark = pytest.mark.slow
SEED = {
    "oauth_clients": [{"client_id": "seeded", "client_secret": "seeded-secret", "market": "CA"}],
    "settings": {"token_lifetime_seconds": 120},
}


def _token_call(base_url: str) -> httpx.Response:
    headers = {"Authorization": basic("seeded", "seeded-secret"), "WM_MARKET": "ca"}
    return httpx.post(
        base_url + "/v3/token",
        headers={**headers, **service_headers()},
        data={"grant_type": "client_credentials"},
    )


def test_thread_server_lifecycle_and_independence(simulator: SimulatorServer) -> None:
    with SimulatorServer(seed=SEED) as other:
        assert other.port not in (0, simulator.port)
        assert other.base_url == f"http://127.0.0.1:{other.port}"
        assert _token_call(other.base_url).json()["expires_in"] == 120
        assert _token_call(simulator.base_url).status_code == 401  # state is per instance
        port = other.port
    # After stop the port is free again and nothing listens on it.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert other.state.token_calls == {"seeded": 1}


def test_subprocess_start_health_and_stop(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(SEED), encoding="utf-8")
    process, base_url = start_subprocess(seed_file=seed_file)
    try:
        assert process.poll() is None
        assert httpx.get(base_url + "/_sim/health").json() == {"status": "ok"}
        assert _token_call(base_url).status_code == 200
        with SimulatorControl(base_url) as control:
            assert control.stats()["token_calls"] == {"seeded": 1}
            # The process runs uvicorn's default loop (uvloop here): reset must work there too.
            control.add_fault("/v3/", "reset", times=1)
            with pytest.raises(httpx.TransportError):
                _token_call(base_url)
    finally:
        stop_subprocess(process)
    assert process.returncode is not None


def test_simulator_process_context_manager() -> None:
    with SimulatorProcess() as sim, SimulatorControl(sim.base_url) as control:
        control.add_oauth_client("seeded", "seeded-secret", market="CA")
        assert _token_call(sim.base_url).status_code == 200
    assert sim.process.returncode is not None


def test_module_entry_point_prints_its_url() -> None:
    command = [sys.executable, "-m", "tests.walmart_sim", "--port", "0"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        assert line.startswith("Walmart simulator listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1]
        assert httpx.get(base_url + "/_sim/health").status_code == 200
    finally:
        stop_subprocess(process)
        if process.stdout is not None:
            process.stdout.close()


def test_bad_seed_file_exits_with_error(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text('{"oauth_clients": [{"client_id": ""}]}', encoding="utf-8")
    command = [sys.executable, "-m", "tests.walmart_sim", "--seed-file", str(seed_file)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, timeout=30)
    assert result.returncode == 2
    assert b"client_id" in result.stderr


async def test_async_control_client(simulator: SimulatorServer) -> None:
    async with AsyncSimulatorControl(simulator.base_url) as control:
        await control.add_oauth_client("seeded", "seeded-secret", market="CA")
        assert (await control.settings(token_lifetime_seconds=30))["token_lifetime_seconds"] == 30
        async with httpx.AsyncClient() as http:
            response = await http.post(
                simulator.base_url + "/v3/token",
                headers={"Authorization": basic("seeded", "seeded-secret"), "WM_MARKET": "CA"}
                | service_headers(),
                data={"grant_type": "client_credentials"},
            )
        assert response.json()["expires_in"] == 30
        stats = await control.stats(limit=1)
        assert stats["token_calls"] == {"seeded": 1}
        assert len(stats["requests"]) == 1
        assert (await control.reset()) == {"ok": True}
