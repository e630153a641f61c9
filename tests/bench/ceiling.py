"""The ceiling: a bare FastAPI app whose one POST endpoint only does the vault's signing step.

``uvicorn tests.bench.ceiling:app --workers 2``. The RSA key (2048 bits unless the PEM file
named by ``BENCH_CEILING_KEY_FILE`` says otherwise) is loaded once at import, in each worker.
The endpoint takes the same body as the vault's headers endpoint, signs Walmart's canonical
string with RSASSA-PKCS1-v1_5 SHA-256 through the vault's own :func:`sign_request`, and
answers the base64 signature as JSON: no authentication, no database, no audit, no logging.
What the vault spends beyond this is the price of everything else on its hot path.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import BaseModel

from app.crypto.signing import sign_request

CONSUMER_ID = "bench-ceiling-consumer"


def _load_key() -> rsa.RSAPrivateKey:
    path = os.environ.get("BENCH_CEILING_KEY_FILE")
    if not path:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("BENCH_CEILING_KEY_FILE must hold an RSA private key")
    return key


class SignRequest(BaseModel):
    method: str
    url: str


class SignResponse(BaseModel):
    signature: str
    timestamp: int


KEY = _load_key()
app = FastAPI(title="bench ceiling", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/sign")
async def sign(body: SignRequest) -> SignResponse:
    timestamp = int(time.time() * 1000)
    signature = sign_request(
        KEY, consumer_id=CONSUMER_ID, url=body.url, method=body.method, timestamp_ms=timestamp
    )
    return SignResponse(signature=signature, timestamp=timestamp)
