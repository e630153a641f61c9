"""Bearer tokens of the vault's API clients: shown once, stored only as a hash.

A token is ``mpv_`` followed by 32 random bytes in unpadded URL-safe base64. The prefix
lets secret scanners and people recognise a leaked vault token. (The auth path does not
check the shape: a bootstrap token is chosen by the operator.)

The stored lookup key is plain SHA-256. Slow password hashes (bcrypt, scrypt, argon2) exist
to make guessing low-entropy human passwords expensive; a token with 256 random bits cannot
be guessed from its hash at any speed, and a fast, deterministic hash is what lets the auth
path find the client with one indexed equality lookup on every request.
"""

import base64
import hashlib
import secrets

TOKEN_PREFIX = "mpv_"  # noqa: S105 -- a public marker for scanners, not a secret
_TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh token; the caller shows it once and keeps only ``hash_token`` of it."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(_TOKEN_BYTES)).rstrip(b"=")
    return TOKEN_PREFIX + raw.decode("ascii")


def hash_token(token: str) -> str:
    """Hex SHA-256 of the whole token (prefix included): the stored lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()
