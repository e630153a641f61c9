"""Registering credentials through the HTTP API, for the scale run's small database.

``POST /v1/credentials`` goes through the service's whole path (validation, key parsing,
envelope sealing bound to the row, audit event with its hash chain). A handful of
pre-generated 1024-bit keys are reused, so the time measured is the vault's, not key
generation's. The large database goes in with the bulk import (``bulk``).
"""

from __future__ import annotations

import asyncio
import time

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from .fixtures import Vault, new_key, signature_body

KEY_POOL = 4


def key_pool(bits: int = 1024, size: int = KEY_POOL) -> list[RSAPrivateKey]:
    return [new_key(bits) for _ in range(size)]


def account_of(index: int) -> str:
    return f"scale-{index:06d}"


def _body(index: int, keys: list[RSAPrivateKey]) -> dict[str, object]:
    account = account_of(index)
    key = keys[index % len(keys)]
    return signature_body(account, f"{account}-consumer", key)


async def _post_all(vault: Vault, bodies: list[dict[str, object]], parallel: int) -> list[str]:
    ids: list[str] = [""] * len(bodies)
    gate = asyncio.Semaphore(parallel)
    headers = {"Authorization": f"Bearer {vault.admin_token}"}
    async with httpx.AsyncClient(base_url=vault.url, headers=headers, timeout=60) as http:

        async def one(position: int, body: dict[str, object]) -> None:
            async with gate:
                response = await http.post("/v1/credentials", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"register -> {response.status_code}: {response.text}")
            ids[position] = response.json()["id"]

        await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
    return ids


def load_http(
    vault: Vault, first: int, count: int, keys: list[RSAPrivateKey], parallel: int = 8
) -> tuple[list[str], float]:
    """``POST /v1/credentials`` for ``count`` credentials, ``parallel`` at a time."""
    bodies = [_body(first + i, keys) for i in range(count)]
    started = time.perf_counter()
    ids = asyncio.run(_post_all(vault, bodies, parallel))
    return ids, count / (time.perf_counter() - started)
