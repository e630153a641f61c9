"""Keys and rows shared by the crypto tests; generated once per session, never checked in."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.crypto import AssociatedData, Envelope, LocalKeyring
from tests.kms_servers import bao_server, moto_server

# Session fixtures of the real KMS servers, started on first use by a test here.
__all__ = ["bao_server", "moto_server"]

# Public test data with a dummy key, published by Walmart client projects (their names and files
# are in the JSON's "sources"): fillup/walmart-auth-signature-php and Ventmere/walmart-partner-api.
VECTORS_PATH = Path(__file__).with_name("vectors") / "walmart-signature-vectors.json"


@pytest.fixture(scope="session")
def signature_vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def keks() -> dict[str, bytes]:
    return {kid: os.urandom(32) for kid in ("k1", "k2", "k3")}


@pytest.fixture
def keyring(keks: dict[str, bytes]) -> LocalKeyring:
    return LocalKeyring([("k1", keks["k1"])])


@pytest.fixture
def envelope(keyring: LocalKeyring) -> Envelope:
    return Envelope(keyring)


@pytest.fixture
def aad() -> AssociatedData:
    return AssociatedData(
        credential_id="0f9c2d5e-cred",
        version=3,
        account_id="acme-001",
        market="CA",
        environment="production",
        purpose="private_key",
    )


@pytest.fixture(scope="session")
def rsa_keys() -> dict[int, rsa.RSAPrivateKey]:
    return {bits: rsa.generate_private_key(65537, bits) for bits in (1024, 2048)}


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl")
    assert path, "the openssl command line is needed for the cross-checks"
    return path


@pytest.fixture(scope="session")
def rsa_512_pem(openssl: str) -> bytes:
    # cryptography refuses to generate keys this small, so OpenSSL makes the too-small key.
    out = subprocess.run(
        [openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512"],
        check=True,
        capture_output=True,
    ).stdout
    key = serialization.load_pem_private_key(out, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 512
    return out
