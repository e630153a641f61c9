"""Canaries through every later path: rotation, live tests, tokens, audit, dumps and reprs.

Walmart access tokens are secrets too: the headers answer must carry them (that is its job),
but no log record, audit event, database column or database dump may.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sqlite3
import subprocess
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.credentials.models import Credential, CredentialVersion
from app.state import AppState
from app.walmart.models import OAuthToken
from tests.api.test_secret_hygiene import _database_dump
from tests.api.walmart_setup import headers_for, oauth_credential, signature_credential
from tests.factories import CHANNEL_TYPE, new_rsa_key, seller_center_key
from tests.walmart_sim import SimulatorControl, SimulatorServer


def database_dump(url: str) -> str:
    """What a backup holds: ``pg_dump`` of PostgreSQL, ``iterdump`` of the SQLite file."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.split("///", 1)[1])
        try:
            return "\n".join(connection.iterdump())
        finally:
            connection.close()
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    return subprocess.run(
        ["pg_dump", "--data-only", plain],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


async def test_no_canary_through_the_credential_lifecycle(
    client: httpx.AsyncClient,
    settings: Settings,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    signature = await signature_credential(client, walmart_control)
    oauth = await oauth_credential(client, walmart_control)
    new_key = new_rsa_key(1024)
    new_key_text = seller_center_key(new_key)
    walmart_control.add_consumer(signature["consumer_id"], new_key, channel_type=CHANNEL_TYPE)
    secret = "CANARY-rotated-secret-77d1"
    walmart_control.add_oauth_client(oauth["client_id"], secret)
    tokens: set[str] = set()
    answers: list[httpx.Response] = []

    async def call(method: str, path: str, **kwargs: Any) -> None:
        answers.append(await client.request(method, path, **kwargs))

    await call("POST", f"/v1/credentials/{signature['id']}/test")
    sig_auth = {
        "kind": "signature",
        "consumer_id": signature["consumer_id"],
        "private_key": new_key_text,
        "channel_type": CHANNEL_TYPE,
    }
    await call("POST", f"/v1/credentials/{signature['id']}/rotate", json={"auth": sig_auth})
    wrong = sig_auth | {"private_key": seller_center_key(new_rsa_key(1024))}
    await call("POST", f"/v1/credentials/{signature['id']}/rotate", json={"auth": wrong})
    oauth_auth = {"kind": "oauth", "client_id": oauth["client_id"], "client_secret": secret}
    await call("POST", f"/v1/credentials/{oauth['id']}/rotate", json={"auth": oauth_auth})
    await call("POST", f"/v1/credentials/{oauth['id']}/test")
    for _ in range(2):
        issued = await headers_for(client, oauth["id"], "GET", walmart.base_url + "/v3/orders")
        tokens.add(issued["headers"]["WM_SEC.ACCESS_TOKEN"])
        await call("POST", f"/v1/credentials/{oauth['id']}/token/invalidate")
    await call("GET", "/v1/audit", params={"limit": 200})
    await asyncio.sleep(settings.audit_flush_seconds + 0.2)  # the batched audit is written

    async with vault_state.sessionmaker() as session:
        objects = [
            *(await session.execute(select(Credential))).scalars(),
            *(await session.execute(select(CredentialVersion))).scalars(),
            *(await session.execute(select(OAuthToken))).scalars(),
        ]
    reprs = "\n".join(repr(o) for o in objects)
    canaries = {
        "new private key": new_key_text,
        "new private key (hex)": base64.b64decode(new_key_text).hex()[80:200],
        "client secret": secret,
        **{f"access token {n}": t for n, t in enumerate(tokens)},
    }
    texts = {
        "a response": "\n".join(a.text for a in answers),
        "a log record": "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records),
        "the database": await _database_dump(settings.database_url),
        "a database dump": database_dump(settings.database_url),
        "a model repr": reprs,
    }
    assert len(tokens) == 2
    for name, canary in canaries.items():
        for where, text in texts.items():
            assert canary not in text, f"{name} in {where}"
    assert "sealed" not in reprs
    assert "v1$" not in reprs
