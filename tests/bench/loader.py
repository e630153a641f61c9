"""Registering many credentials: through the HTTP API, or in-process through the service.

Both go through the service's own code path (``create_credential``: validation, key parsing,
envelope sealing bound to the row, audit event with its hash chain); in-process simply skips
HTTP and authentication, and commits ``batch`` credentials per transaction. A handful of
pre-generated 1024-bit keys are reused, so the time measured is the vault's, not key
generation's. Returns the new credential ids and the registrations per second.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import AnyHttpUrl, SecretStr

from app.clients.scopes import Caller
from app.config import Settings
from app.credentials.schemas import CredentialCreate
from app.credentials.service import create_credential
from app.db import make_engine, make_sessionmaker, transaction
from app.kek import build_envelope

from .fixtures import Vault, new_key, signature_body

KEY_POOL = 4


def key_pool(bits: int = 1024, size: int = KEY_POOL) -> list[RSAPrivateKey]:
    return [new_key(bits) for _ in range(size)]


def _body(index: int, keys: list[RSAPrivateKey]) -> dict[str, object]:
    account = f"scale-{index:06d}"
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


def service_settings(env: dict[str, str]) -> Settings:
    """The vault's settings from the same VAULT_ variables the server was started with."""
    return Settings(
        _env_file=None,
        env="production",
        database_url=env["VAULT_DATABASE_URL"],
        local_keks=SecretStr(env["VAULT_LOCAL_KEKS"]),
        bootstrap_token=SecretStr(env["VAULT_BOOTSTRAP_TOKEN"]),
        walmart_production_url=AnyHttpUrl(env["VAULT_WALMART_PRODUCTION_URL"]),
        walmart_allow_http=True,
    )


async def _load_in_process(
    settings: Settings,
    caller: Caller,
    bodies: Callable[[int], dict[str, object]],
    first: int,
    count: int,
    batch: int,
    progress: Callable[[int, float], None],
) -> list[str]:
    kek = build_envelope(settings)
    engine = make_engine(settings.database_url, timeout_seconds=60)
    sessionmaker = make_sessionmaker(engine)
    ids: list[str] = []
    started = time.perf_counter()
    try:
        for offset in range(0, count, batch):
            size = min(batch, count - offset)
            async with transaction(sessionmaker) as session:
                for index in range(first + offset, first + offset + size):
                    body = CredentialCreate.model_validate(bodies(index))
                    created = await create_credential(
                        session, kek.envelope, caller=caller, body=body
                    )
                    ids.append(str(created.id))
            progress(len(ids), len(ids) / (time.perf_counter() - started))
    finally:
        await engine.dispose()
        await kek.aclose()
    return ids


def load_in_process(
    env: dict[str, str],
    admin_client_id: str,
    first: int,
    count: int,
    keys: list[RSAPrivateKey],
    *,
    batch: int = 500,
    progress: Callable[[int, float], None] = lambda done, rate: None,
) -> tuple[list[str], float]:
    """``create_credential`` called directly, ``batch`` credentials per transaction."""
    caller = Caller(
        client_id=uuid.UUID(admin_client_id),
        name="bootstrap",
        scopes=frozenset({"admin"}),
        account_ids=None,
        request_id="bench-bulk-load",
    )
    started = time.perf_counter()
    ids = asyncio.run(
        _load_in_process(
            service_settings(env),
            caller,
            lambda index: _body(index, keys),
            first,
            count,
            batch,
            progress,
        )
    )
    return ids, count / (time.perf_counter() - started)
