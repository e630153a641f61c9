"""Random bearer secrets the vault shows once and stores only as a hash.

API clients' tokens (``mpv_``), intake link tokens (``mpvl_``) and connection states (no
prefix) are all made and hashed here. A token is its prefix followed by 32 random bytes in
unpadded URL-safe base64; the prefix lets secret scanners and people recognise a leaked one.
(The auth path does not check the shape: a bootstrap token is chosen by the operator.)

The stored lookup key is plain SHA-256, optionally of a domain-separating ``context`` put
before the token. Slow password hashes (bcrypt, scrypt, argon2) exist to make guessing
low-entropy human passwords expensive; a token with 256 random bits cannot be guessed from
its hash at any speed, and a fast, deterministic hash is what lets a request find its row with
one indexed equality lookup.
"""

import base64
import hashlib
import secrets

TOKEN_PREFIX = "mpv_"  # noqa: S105 -- a public marker for scanners, not a secret
_TOKEN_BYTES = 32


def new_token(prefix: str = TOKEN_PREFIX) -> str:
    """A fresh token; the caller shows it once and keeps only ``hash_token`` of it."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(_TOKEN_BYTES)).rstrip(b"=")
    return prefix + raw.decode("ascii")


def hash_token(token: str, *, context: bytes = b"") -> str:
    """Hex SHA-256 of ``context`` then the whole token (prefix included): the stored lookup key.

    Existing rows were hashed this way, so the bytes hashed must never change for a given kind.
    """
    return hashlib.sha256(context + token.encode()).hexdigest()
