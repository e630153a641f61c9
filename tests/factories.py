"""Test data: RSA keys in every format sellers paste, request bodies, and KEK settings."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from app.crypto import LocalKeyring

CHANNEL_TYPE = "0f3e4dd4-0514-4346-b39d-af0e00ea066d"
_KEYS: dict[int, rsa.RSAPrivateKey] = {}


def rsa_key(bits: int = 1024) -> rsa.RSAPrivateKey:
    """A fresh key per call would make tests slow; one per size is plenty."""
    if bits not in _KEYS:
        _KEYS[bits] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _KEYS[bits]


def new_rsa_key(bits: int = 1024) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def seller_center_key(key: rsa.RSAPrivateKey) -> str:
    """What Seller Center's Copy button gives: base64 PKCS#8 DER on one line."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


def pem_pkcs8(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def pem_pkcs1(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def signature_body(
    *, account_id: str = "acme-ca", key: rsa.RSAPrivateKey | None = None, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "market": "CA",
        "environment": "production",
        "label": "Acme Canada",
        "auth": {
            "kind": "signature",
            "consumer_id": str(uuid.uuid4()),
            "private_key": seller_center_key(key or rsa_key()),
            "channel_type": CHANNEL_TYPE,
        },
    }
    body.update(overrides)
    return body


def oauth_body(
    *, account_id: str = "acme-001", market: str = "US", secret: str | None = None, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "market": market,
        "environment": "production",
        "label": "Acme main store",
        "auth": {
            "kind": "oauth",
            "client_id": str(uuid.uuid4()),
            "client_secret": secret or f"secret-{uuid.uuid4().hex}",
        },
    }
    if market in ("MX", "CL"):  # Walmart requires the channel type there
        body["auth"]["channel_type"] = CHANNEL_TYPE
    body.update(overrides)
    return body


def signature_auth(consumer_id: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The ``auth`` of a rotation to ``key``."""
    return {
        "kind": "signature",
        "consumer_id": consumer_id,
        "private_key": seller_center_key(key),
        "channel_type": CHANNEL_TYPE,
    }


def keks_rotated_to(kid: str, keks: SecretStr | str | None) -> str:
    """``VAULT_LOCAL_KEKS`` after a KEK rotation: a new KEK ``kid`` first (it seals from now
    on), then the KEKs of ``keks``, which still open what they sealed."""
    old = keks.get_secret_value() if isinstance(keks, SecretStr) else keks
    new = LocalKeyring.generate_spec(kid)
    return f"{new},{old}" if old else new
