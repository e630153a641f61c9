"""Client-side helpers for the simulator's own tests: the caller's half of Walmart auth.

Deliberately tiny and written apart from both the vault (``app/``) and the simulator's
verifier (:mod:`.signature`), so a test that passes shows two independent readings of the
reference agree. Only the tests use it; vault tests should get headers from the vault.
"""

from __future__ import annotations

import base64
import time
import uuid

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

CLIENT_ID = "6f1c1a52-7f0e-4b43-9b1d-4a0f2d3c1a01"
CLIENT_SECRET = "AL3x-simulated-client-secret-0123456789"
CONSUMER_ID = "f091ae58-774c-45ff-9d8a-e30a83344e42"
CHANNEL_TYPE = "0f3e4dd4-0514-4346-b39d-af0e00ea066d"


def now_ms() -> int:
    return int(time.time() * 1000)


def service_headers() -> dict[str, str]:
    """The two headers every Walmart call needs besides auth."""
    return {"WM_SVC.NAME": "Walmart Marketplace", "WM_QOS.CORRELATION_ID": str(uuid.uuid4())}


def sign(
    key: RSAPrivateKey,
    consumer_id: str,
    url: str,
    method: str,
    timestamp: int | str,
    *,
    trailing_newline: bool = True,
) -> str:
    """base64 RSASSA-PKCS1-v1_5/SHA-256 over ``consumer_id\\nurl\\nMETHOD\\ntimestamp\\n``."""
    text = f"{consumer_id}\n{url}\n{method}\n{timestamp}" + ("\n" if trailing_newline else "")
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def signed_headers(
    key: RSAPrivateKey,
    url: str,
    method: str = "GET",
    *,
    consumer_id: str = CONSUMER_ID,
    channel_type: str = CHANNEL_TYPE,
    timestamp: int | None = None,
) -> dict[str, str]:
    ts = now_ms() if timestamp is None else timestamp
    return {
        "WM_CONSUMER.ID": consumer_id,
        "WM_SEC.TIMESTAMP": str(ts),
        "WM_SEC.AUTH_SIGNATURE": sign(key, consumer_id, url, method, ts),
        "WM_CONSUMER.CHANNEL.TYPE": channel_type,
        "Accept": "application/json",
        **service_headers(),
    }


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


async def request_token(
    client: httpx.AsyncClient,
    client_id: str = CLIENT_ID,
    secret: str = CLIENT_SECRET,
    *,
    market: str | None = None,
    drop: str | None = None,
) -> httpx.Response:
    """POST /v3/token as the docs show it (2.2); ``drop`` omits one header to test 400s."""
    headers = {"Authorization": basic(client_id, secret), **service_headers()}
    if market is not None:
        headers["WM_MARKET"] = market
    headers.pop(drop or "", None)
    return await client.post(
        "/v3/token", headers=headers, data={"grant_type": "client_credentials"}
    )


async def token_for(client: httpx.AsyncClient, client_id: str = CLIENT_ID, **kw: str) -> str:
    response = await request_token(client, client_id, **kw)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def error_code(response: httpx.Response) -> str:
    code = response.json()["error"][0]["code"]
    assert isinstance(code, str)
    return code
