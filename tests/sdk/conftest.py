"""One real vault process per test module, in front of the session's Walmart simulator.

The SDK is imported from its source folder (``clients/python`` goes on ``sys.path``), so
these tests need no install step. The vault runs as ``uvicorn app.main:app`` in production
mode on its own migrated SQLite file, and the simulator stands in for Walmart's production
gateway. Credentials are registered through the vault's API with the bootstrap token, and in
the simulator, which ``walmart_control`` wipes before each test. Each test therefore makes
its own credentials, and the vault's caches never carry one test's state into the next.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BOOTSTRAP_TOKEN, migrate
from tests.factories import CHANNEL_TYPE, oauth_body, rsa_key, signature_body
from tests.replicas import ROOT, Replicas
from tests.walmart_sim import SimulatorControl, SimulatorServer

if str(ROOT / "clients" / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "clients" / "python"))

from mports_vault_client import WalmartAuth  # after the path above

MakeAuth = Callable[..., WalmartAuth]


@pytest.fixture(scope="module")
def vault(
    local_keks: str, walmart: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    directory: Path = tmp_path_factory.mktemp("vault")
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
    with Replicas(1, settings, directory) as running:
        yield running


@pytest.fixture(scope="module")
def vault_url(vault: Replicas) -> str:
    return vault.urls[0]


@pytest.fixture(scope="module")
def admin(vault_url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    with httpx.Client(base_url=vault_url, headers=headers, timeout=30) as client:
        yield client


def new_api_client(admin: httpx.Client, *scopes: str) -> dict[str, Any]:
    """A fresh vault API client: ``{"id", "token", ...}``."""
    body = {"name": f"sdk-{uuid.uuid4().hex[:8]}", "scopes": list(scopes)}
    response = admin.post("/v1/clients", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture(scope="module")
def sdk_token(admin: httpx.Client) -> str:
    token: str = new_api_client(admin, "headers:issue")["token"]
    return token


def _register(admin: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = admin.post("/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def signature_credential(admin: httpx.Client, walmart_control: SimulatorControl) -> dict[str, Any]:
    """A CA signature credential the simulator knows the public key of."""
    body = signature_body(account_id=f"ca-{uuid.uuid4().hex[:10]}")
    walmart_control.add_consumer(body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE)
    return _register(admin, body)


@pytest.fixture
def oauth_credential(admin: httpx.Client, walmart_control: SimulatorControl) -> dict[str, Any]:
    """A US OAuth credential registered as a client in the simulator."""
    body = oauth_body(account_id=f"us-{uuid.uuid4().hex[:10]}")
    walmart_control.add_oauth_client(body["auth"]["client_id"], body["auth"]["client_secret"])
    return _register(admin, body)


@pytest.fixture
async def make_auth(vault_url: str, sdk_token: str) -> AsyncIterator[MakeAuth]:
    """``make_auth(credential_id=...)``: a ``WalmartAuth`` closed after the test."""
    made: list[WalmartAuth] = []

    def make(**target: Any) -> WalmartAuth:
        target.setdefault("vault_token", sdk_token)
        made.append(WalmartAuth(vault_url=vault_url, **target))
        return made[-1]

    yield make
    for auth in made:
        auth.close()
        await auth.aclose()


def walmart_calls(control: SimulatorControl, path: str) -> list[dict[str, Any]]:
    """What the simulator saw on ``path`` (query ignored), oldest first."""
    requests: list[dict[str, Any]] = control.stats()["requests"]
    return [r for r in requests if r["path"] == path]


async def send(
    flavor: str, auth: WalmartAuth, base_url: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One request through an ``httpx.Client`` (off the event loop) or an ``AsyncClient``."""
    if flavor == "sync":

        def blocking() -> httpx.Response:
            with httpx.Client(base_url=base_url, auth=auth) as client:
                return client.request(method, url, **kwargs)

        return await asyncio.to_thread(blocking)
    async with httpx.AsyncClient(base_url=base_url, auth=auth) as client:
        return await client.request(method, url, **kwargs)
