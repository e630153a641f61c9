"""The service on external KEK providers: OpenBao Transit and AWS KMS (moto), both real servers.

Covers an end-to-end run on each, a KMS that stops answering (503 with a clear code, /readyz
fails, service resumes by itself), and moving from the local keyring to Transit with rewrap.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import ConfigurationError, Settings
from app.main import create_app
from app.ops.kek_probe import FAILED_CHECK_SECONDS
from tests.api.helpers import assert_error
from tests.conftest import BOOTSTRAP_TOKEN, _empty_tables
from tests.factories import CHANNEL_TYPE, rsa_key, signature_body
from tests.kms_servers import BaoServer, MotoServer, bao_server, moto_server  # noqa: F401
from tests.running import running_vault
from tests.test_cli import vault_admin_async
from tests.walmart_sim import SimulatorControl, SimulatorServer

pytestmark = pytest.mark.slow


def transit_settings(settings: Settings, bao: BaoServer, key: str) -> Settings:
    return settings.model_copy(
        update={
            "kek_provider": "transit",
            "transit_address": bao.address,
            "transit_token": SecretStr(bao.token),
            "transit_key": key,
            "kek_timeout_seconds": 1.0,
        }
    )


async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    await _empty_tables(settings.database_url)
    async with running_vault(settings) as http:
        yield http


async def sealed_prefixes(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT sealed_secret FROM credential_versions"))
            return {row[0].split("$")[1] for row in rows if row[0]}
    finally:
        await engine.dispose()


async def issue(http: httpx.AsyncClient, walmart: SimulatorServer, credential_id: str) -> int:
    response = await http.post(
        f"/v1/credentials/{credential_id}/headers",
        json={"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"},
    )
    return response.status_code


def test_external_providers_name_missing_settings(settings: Settings) -> None:
    for provider, variable in (
        ("transit", "VAULT_TRANSIT_ADDRESS"),
        ("aws-kms", "VAULT_AWS_KMS_KEY_ID"),
    ):
        with pytest.raises(ConfigurationError, match=variable):
            create_app(settings.model_copy(update={"kek_provider": provider}))


async def test_transit_end_to_end_and_outage(
    settings: Settings,
    bao_server: BaoServer,  # noqa: F811
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    key = f"vault-{secrets.token_hex(4)}"
    bao_server.create_key(key)
    on_transit = transit_settings(settings, bao_server, key)
    async for http in running(on_transit):
        body = signature_body()
        walmart_control.add_consumer(
            body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE
        )
        created = (await http.post("/v1/credentials", json=body)).json()
        assert await issue(http, walmart, created["id"]) == 200
        assert await sealed_prefixes(settings.database_url) == {"transit"}
        with bao_server.paused():
            started = time.perf_counter()
            refused = await http.post("/v1/credentials", json=signature_body(account_id="other"))
            assert time.perf_counter() - started < 4
            assert_error(refused, 503, "kek_unavailable")
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()["checks"]["kek"]) == (503, "failed")
            # Already-unwrapped keys keep serving the hot path while the KMS is away.
            assert await issue(http, walmart, created["id"]) == 200
        # The failed verdict is kept a second (a probe storm costs a failing KMS one round
        # trip a second); the first probe after it finds the KEK back.
        await asyncio.sleep(FAILED_CHECK_SECONDS)
        assert (await http.get("/readyz")).status_code == 200
        again = await http.post("/v1/credentials", json=signature_body(account_id="other"))
        assert again.status_code == 201


async def test_aws_kms_end_to_end(
    settings: Settings,
    moto_server: MotoServer,  # noqa: F811
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # boto3 reads AWS credentials from its standard chain; moto accepts any.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    key_id = moto_server.create_key()
    on_kms = settings.model_copy(
        update={
            "kek_provider": "aws-kms",
            "aws_kms_key_id": key_id,
            "aws_kms_region": "us-east-1",
            "aws_kms_endpoint_url": moto_server.endpoint_url,
        }
    )
    async for http in running(on_kms):
        body = signature_body()
        walmart_control.add_consumer(
            body["auth"]["consumer_id"], rsa_key(), channel_type=CHANNEL_TYPE
        )
        created = (await http.post("/v1/credentials", json=body)).json()
        assert await issue(http, walmart, created["id"]) == 200
        assert (await http.get("/readyz")).status_code == 200
    assert await sealed_prefixes(settings.database_url) == {"aws-kms"}


async def test_move_from_local_keyring_to_transit_with_rewrap(
    settings: Settings,
    bao_server: BaoServer,  # noqa: F811
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    tmp_path: Path,
) -> None:
    count = 40
    ids = []
    async for http in running(settings):
        for n in range(count):
            body = signature_body(account_id=f"seller-{n}")
            ids.append((await http.post("/v1/credentials", json=body)).json()["id"])
    key = f"vault-{secrets.token_hex(4)}"
    bao_server.create_key(key)
    local = settings.local_keks.get_secret_value() if settings.local_keks else ""
    env = {
        "VAULT_KEK_PROVIDER": "transit",
        "VAULT_TRANSIT_ADDRESS": bao_server.address,
        "VAULT_TRANSIT_TOKEN": bao_server.token,
        "VAULT_TRANSIT_KEY": key,
        "VAULT_LOCAL_KEKS": local,
    }
    moved = await vault_admin_async(
        settings, "kek", "rewrap", "--batch-size", "10", cwd=tmp_path, **env
    )
    assert moved.returncode == 0, moved.stderr
    assert f"re-wrapped {count} data key(s)" in moved.stdout
    print("\nlocal -> transit:", moved.stdout.strip().splitlines()[-1])
    assert await sealed_prefixes(settings.database_url) == {"transit"}
    only_transit = transit_settings(settings, bao_server, key).model_copy(
        update={"local_keks": None}
    )
    app = create_app(only_transit)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://vault.test",
            headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
        ) as http,
    ):
        for credential_id in ids:
            assert await issue(http, walmart, credential_id) == 200
