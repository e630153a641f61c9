"""Link tokens and the form's CSRF token.

A link token is ``mpvl_`` and 32 random bytes in unpadded URL-safe base64: the prefix lets
secret scanners recognise a leaked link, the fixed shape lets the pages refuse junk before
touching the database. Only its SHA-256 is stored (``app.crypto.tokens`` makes and hashes it,
and says why a fast hash is right for 256 random bits).

The CSRF token is an HMAC of the link's id keyed by the link token, so it is bound to that
one link, needs no stored secret, and can be made only by whoever holds the link itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

from app.crypto import new_token

LINK_TOKEN_PREFIX = "mpvl_"  # noqa: S105 -- a public marker for scanners, not a secret
_WELL_FORMED = re.compile(re.escape(LINK_TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")
_CSRF_CONTEXT = b"mports-vault/intake-csrf/v1\0"


def new_link_token() -> str:
    return new_token(LINK_TOKEN_PREFIX)


def is_well_formed(token: str) -> bool:
    return _WELL_FORMED.fullmatch(token) is not None


def csrf_token(link_token: str, link_id: uuid.UUID) -> str:
    return hmac.new(link_token.encode(), _CSRF_CONTEXT + link_id.bytes, hashlib.sha256).hexdigest()


def csrf_matches(given: str, link_token: str, link_id: uuid.UUID) -> bool:
    expected = csrf_token(link_token, link_id)
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())
