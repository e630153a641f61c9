"""Walmart's side of the legacy digital signature (reference/walmart-auth.md 1.2-1.7).

Written from the reference, not from the vault's code, so a shared misunderstanding cannot
make both sides agree on a wrong signature:

* string to sign: ``consumer_id \\n url \\n METHOD \\n timestamp_ms \\n`` - four fields, each
  followed by LF, including the trailing one after the timestamp;
* RSASSA-PKCS1-v1_5 with SHA-256 over its UTF-8 bytes; the header carries standard base64;
* the URL is the one on the wire, byte for byte (1.3): Walmart does not canonicalise, so a
  signature over ``...T05%3A00`` does not match a request sent as ``...T05:00``.

To honour that last rule the URL is rebuilt from what uvicorn received, never decoded:
scheme + ``://`` + the ``Host`` header + ``scope["raw_path"]`` + ``?`` + the raw
``scope["query_string"]``. Starlette's ``request.url`` would not do: it re-quotes the path.
The app runs without proxy-header rewriting so scheme and host are the client's own.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.types import Scope


def header_value(scope: Scope, name: str) -> str | None:
    """First value of a request header from the raw ASGI list (names arrive lower-case)."""
    wanted = name.lower().encode("latin-1")
    for key, value in scope["headers"]:
        if key == wanted:
            return str(value.decode("latin-1"))
    return None


def wire_url(scope: Scope) -> str:
    """The absolute URL exactly as the client put it on the request line."""
    host = header_value(scope, "host") or ""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    url = f"{scope['scheme']}://{host}{raw_path.decode('latin-1')}"
    query: bytes = scope.get("query_string", b"")
    if query:
        url += "?" + query.decode("latin-1")
    return url


def string_to_sign(consumer_id: str, url: str, method: str, timestamp: str) -> bytes:
    return f"{consumer_id}\n{url}\n{method}\n{timestamp}\n".encode()


def verify_signature(
    public_key: RSAPublicKey,
    signature_b64: str,
    consumer_id: str,
    url: str,
    method: str,
    timestamp: str,
) -> bool:
    # The method comes from the request line as-is: a client that signs "get" but sends
    # "GET" (or signs GET for a POST, a known client bug) must fail here.
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(
            signature,
            string_to_sign(consumer_id, url, method, timestamp),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return False
    return True


def load_public_key(text: str) -> RSAPublicKey:
    """Parse an RSA public key: PEM (SubjectPublicKeyInfo or PKCS#1) or base64 DER.

    Raises ``ValueError`` with a readable reason; the control API turns it into a 400.
    """
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(stripped.encode("ascii"))
        else:
            der = base64.b64decode("".join(stripped.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError(f"cannot parse public key: {exc}") from exc
    if not isinstance(key, RSAPublicKey):
        raise ValueError("public key is not RSA")
    return key
