"""A 50 MB feed goes up and a 50 MB report comes down through the proxy of a real vault process,
and the worker's peak memory grows by less than 20 MB: bodies stream, they are not held.

The peak is the kernel's own high-water mark of the worker's resident memory (``VmHWM``), reset
(``clear_refs`` 5) after a warm-up so that only the transfer counts. The figures are printed
(``pytest -s``) and quoted in the README.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BOOTSTRAP_TOKEN, migrate
from tests.factories import oauth_body
from tests.replicas import Replicas
from tests.walmart_sim import SimulatorControl, SimulatorServer
from tests.walmart_sim.bodies import PATTERN

SIZE = 50 * 1024 * 1024
LIMIT = 20 * 1024 * 1024
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def vault(
    local_keks: str, walmart: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    directory: Path = tmp_path_factory.mktemp("proxy-memory")
    database_url = f"sqlite+aiosqlite:///{directory / 'vault.db'}"
    migrate(database_url)
    settings = {
        "VAULT_ENV": "production",
        "VAULT_DATABASE_URL": database_url,
        "VAULT_LOCAL_KEKS": local_keks,
        "VAULT_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "VAULT_WALMART_PRODUCTION_URL": walmart.base_url,
        "VAULT_WALMART_ALLOW_HTTP": "true",
    }
    with Replicas(1, settings, directory) as running:  # one worker: it serves in this pid
        yield running


def _kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _reset_peak(pid: int) -> int:
    """Reset the high-water mark to the current resident size; that size, in bytes."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _kb(pid, "VmRSS") * 1024


def _feed() -> Iterator[bytes]:
    for offset in range(0, SIZE, CHUNK):
        yield bytes([offset // CHUNK % 251]) * min(CHUNK, SIZE - offset)


def test_50_mb_both_ways_without_holding_them(
    vault: Replicas, walmart_control: SimulatorControl
) -> None:
    body = oauth_body(account_id="feeds")
    walmart_control.add_oauth_client(body["auth"]["client_id"], body["auth"]["client_secret"])
    admin = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    proxy = "/v1/proxy/feeds/US/production"
    pid = vault.processes[0].pid
    with httpx.Client(base_url=vault.urls[0], headers=admin, timeout=60) as http:
        assert http.post("/v1/credentials", json=body).status_code == 201
        # Warm up every code path once, so that imports and pools are not counted.
        assert http.post(f"{proxy}/v3/feeds", content=b"x" * CHUNK).status_code == 200
        assert http.get(f"{proxy}/v3/reports/download?bytes={CHUNK}").status_code == 200

        before_upload = _reset_peak(pid)
        upload = http.post(
            f"{proxy}/v3/feeds?feedType=item",
            content=_feed(),
            headers={"Content-Length": str(SIZE), "Content-Type": "application/octet-stream"},
        )
        upload_growth = _kb(pid, "VmHWM") * 1024 - before_upload
        assert upload.status_code == 200, upload.text
        expected = hashlib.sha256(b"".join(_feed())).hexdigest()
        assert (upload.json()["body_bytes"], upload.json()["sha256"]) == (SIZE, expected)

        before_download = _reset_peak(pid)
        digest, received = hashlib.sha256(), 0
        with http.stream("GET", f"{proxy}/v3/reports/download?bytes={SIZE}") as download:
            assert download.status_code == 200
            assert download.headers["content-length"] == str(SIZE)
            for chunk in download.iter_raw():
                digest.update(chunk)
                received += len(chunk)
        download_growth = _kb(pid, "VmHWM") * 1024 - before_download
    whole, rest = divmod(SIZE, len(PATTERN))
    assert received == SIZE
    assert digest.hexdigest() == hashlib.sha256(PATTERN * whole + PATTERN[:rest]).hexdigest()
    print(
        f"\nproxy 50 MB: worker peak grew {upload_growth / 2**20:.1f} MB uploading, "
        f"{download_growth / 2**20:.1f} MB downloading (limit {LIMIT / 2**20:.0f} MB)"
    )
    assert upload_growth < LIMIT
    assert download_growth < LIMIT
