"""Walmart's legacy digital signature (Consumer ID + private key), as pure functions.

The signed string is ``consumer_id \\n url \\n METHOD \\n timestamp_ms \\n`` in UTF-8, with a
trailing newline that every reference client adds and without which the published vectors
fail. Walmart checks the URL byte for byte as it appears on the request line, so the URL is
signed exactly as given: decoding, re-encoding or sorting the query here would produce a
signature for a different URL than the one the caller sends.

RSASSA-PKCS1-v1_5 with SHA-256 is deterministic, so the same inputs always give the same
signature; the clock is an argument (as in ``Fernet.encrypt_at_time``) to keep it that way
and testable against fixed vectors.
"""

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey


def canonical_string(*, consumer_id: str, url: str, method: str, timestamp_ms: int) -> bytes:
    """The exact bytes Walmart expects to be signed."""
    return f"{consumer_id}\n{url}\n{method.upper()}\n{timestamp_ms}\n".encode()


def sign_request(
    private_key: RSAPrivateKey, *, consumer_id: str, url: str, method: str, timestamp_ms: int
) -> str:
    """Standard (padded, not URL-safe) base64 of the signature, for WM_SEC.AUTH_SIGNATURE."""
    message = canonical_string(
        consumer_id=consumer_id, url=url, method=method, timestamp_ms=timestamp_ms
    )
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_request_signature(
    public_key: RSAPublicKey,
    signature_b64: str,
    *,
    consumer_id: str,
    url: str,
    method: str,
    timestamp_ms: int,
) -> bool:
    """Whether ``signature_b64`` is a valid signature of that request by ``public_key``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except binascii.Error:
        return False
    message = canonical_string(
        consumer_id=consumer_id, url=url, method=method, timestamp_ms=timestamp_ms
    )
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
