"""``python -m tests.bench.hostile_keys [PEM ...]``: how fast hostile keys are refused, and how
long /healthz waits meanwhile, against the real app on SQLite (in process, over ASGI).

Real 8,192- and 16,384-bit keys take minutes to generate (``openssl genrsa -out k.pem 16384``),
so they are given as files; without them the keys are shaped ones (``tests.hostile_keys``).
Also prints how long ``cryptography`` alone takes to load and check each given key, which is
what registering it cost before keys were bounded.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from app.config import Settings
from app.crypto import LocalKeyring
from tests.conftest import BOOTSTRAP_TOKEN, migrate
from tests.factories import pem_pkcs8, rsa_key, signature_body
from tests.hostile_keys import key_with_exponent, pem, pkcs8, private_der, shaped_pkcs1


async def _timed_registration(
    http: httpx.AsyncClient, label: str, key_text: str, account: str
) -> None:
    body = signature_body(account_id=account)
    body["auth"]["private_key"] = key_text
    task = asyncio.create_task(http.post("/v1/credentials", json=body))
    started, waits = time.perf_counter(), []
    while not task.done():
        probe = time.perf_counter()
        assert (await http.get("/healthz")).status_code == 200
        waits.append((time.perf_counter() - probe) * 1000)
        await asyncio.sleep(0.005)
    answer = await task
    elapsed = (time.perf_counter() - started) * 1000
    code = answer.json().get("error", {}).get("code", "") if answer.status_code != 201 else ""
    slowest = f"{max(waits):.1f}" if waits else "-"
    median = f"{statistics.median(waits):.1f}" if waits else "-"
    print(
        f"{label:34} {answer.status_code} {code:20} {elapsed:9.1f} ms   healthz n={len(waits)}"
        f" median {median} ms max {slowest} ms"
    )


async def main(paths: list[Path], folder: str) -> None:
    from app.main import create_app

    url = f"sqlite+aiosqlite:///{folder}/vault.db"
    settings = Settings(
        _env_file=None,
        env="production",
        database_url=url,
        bootstrap_token=BOOTSTRAP_TOKEN,
        local_keks=LocalKeyring.generate_spec("bench"),
        walmart_production_url="http://127.0.0.1:9",
        walmart_sandbox_url="http://127.0.0.1:9",
        walmart_allow_http=True,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://vault.test", headers=headers, timeout=120
        ) as http:
            cases = [(p.name, p.read_text()) for p in paths]
            cases += [
                ("shaped 16384-bit", pem(pkcs8(shaped_pkcs1(16384)), "PRIVATE KEY")),
                ("shaped 8192-bit", pem(pkcs8(shaped_pkcs1(8192)), "PRIVATE KEY")),
                (
                    "2048-bit, 2040-bit exponent",
                    pem(private_der(key_with_exponent(2**2039 + 1)), "PRIVATE KEY"),
                ),
                ("4096-bit (largest accepted)", pem_pkcs8(rsa_key(4096))),
                ("2048-bit (Walmart's size)", pem_pkcs8(rsa_key(2048))),
            ]
            await _timed_registration(http, "warm-up 1024-bit", pem_pkcs8(rsa_key()), "w0")
            for n, (label, text) in enumerate(cases):
                await _timed_registration(http, label, text, f"case-{n}")
    for path in paths:
        started = time.perf_counter()
        serialization.load_pem_private_key(path.read_bytes(), password=None)
        print(f"cryptography alone loads {path.name} in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as temporary:
        migrate(f"sqlite+aiosqlite:///{temporary}/vault.db")  # runs a loop of its own
        asyncio.run(main([Path(p) for p in sys.argv[1:]], temporary))
