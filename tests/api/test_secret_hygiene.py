"""Canary test: secrets registered with the vault never come back out.

Credentials are registered with recognisable secrets, every endpoint is exercised (including
failing calls that carry secrets), then every response, every log record and every database
column is searched for the canaries in plaintext.
"""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import Base
from tests.api.helpers import bearer
from tests.factories import new_rsa_key, oauth_body, seller_center_key, signature_body


async def _database_dump(url: str) -> str:
    engine = create_async_engine(url)
    dump: list[str] = []
    try:
        async with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                rows = await connection.execute(text(f"SELECT * FROM {table.name}"))  # noqa: S608
                dump += [repr(tuple(row)) for row in rows]
    finally:
        await engine.dispose()
    return "\n".join(dump)


async def test_no_canary_in_responses_logs_or_database(
    client: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = new_rsa_key(1024)
    key_text = seller_center_key(key)
    der = base64.b64decode(key_text)
    client_secret = "CANARY-client-secret-5f2c9a"
    responses: list[httpx.Response] = []

    async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
        response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
        responses.append(response)
        return response

    sig = (await call("POST", "/v1/credentials", json=signature_body(key=key))).json()
    oauth = (await call("POST", "/v1/credentials", json=oauth_body(secret=client_secret))).json()
    made = await call("POST", "/v1/clients", json={"name": "svc", "scopes": ["credentials:read"]})
    caller_token = made.json()["token"]
    for credential in (sig, oauth):
        url = f"/v1/credentials/{credential['id']}"
        await call("GET", url)
        await call("GET", f"{url}/versions")
        await call("PATCH", url, json={"label": "edited"})
        await call("GET", url, headers=bearer(caller_token))
    await call("GET", "/v1/credentials")
    await call("GET", "/v1/clients")
    # Failing calls that carry the secrets must not echo them either.
    await call("POST", "/v1/credentials", json=signature_body(key=key))
    await call("POST", "/v1/credentials", json=oauth_body(secret=client_secret))
    bad = signature_body(market="US", key=key)
    await call("POST", "/v1/credentials", json=bad)
    broken = signature_body(account_id="other")
    broken["auth"]["private_key"] = key_text[:-40]
    await call("POST", "/v1/credentials", json=broken)
    extra = oauth_body(secret=client_secret, account_id="x2")
    extra["auth"]["unexpected"] = client_secret
    await call("POST", "/v1/credentials", json=extra)
    await call("GET", "/v1/credentials", headers=bearer(caller_token + "x"))
    await call("DELETE", f"/v1/credentials/{sig['id']}")

    canaries = {
        "private key (base64)": key_text,
        "private key (start)": key_text[40:100],
        "private key (hex)": der.hex()[80:200],
        "client secret": client_secret,
    }
    response_text = "\n".join(r.text + repr(r.headers) for r in responses)
    logs = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    dump = await _database_dump(settings.database_url)
    for name, canary in canaries.items():
        assert canary not in response_text, f"{name} in a response"
        assert canary not in logs, f"{name} in a log record"
        assert canary not in dump, f"{name} in the database"
    caller_hidden = {"caller token": caller_token}
    for name, canary in caller_hidden.items():
        assert canary not in logs, f"{name} in a log record"
        assert canary not in dump, f"{name} in the database"
    assert "CANARY" not in dump
