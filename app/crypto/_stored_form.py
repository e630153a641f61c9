"""Text form of a sealed value, kept apart from the cryptography that fills it.

``v1$<provider>$<key_id>$<wrapped DEK>$<nonce>$<ciphertext+tag>``: ASCII, one column, and
self-describing, so ``kek_of`` and rotation tooling can read which KEK a value needs
without decrypting anything. Binary fields are URL-safe base64 without padding (decoding
accepts it with or without), which keeps '$' free as the separator.

Anything that does not parse raises ``UnknownSealFormat``; messages describe the shape
that was wrong and never repeat the input, which may be a secret stored by mistake.
"""

import base64
import re
from typing import NamedTuple

from app.crypto.errors import UnknownSealFormat

FORMAT_VERSION = "v1"
NONCE_BYTES = 12
_TAG_BYTES = 16
_FIELDS = 6
PROVIDER_NAME = re.compile(r"[a-z0-9-]{1,32}")
# '$' separates the fields, so it can never be part of one; the rest of printable ASCII
# is allowed so that KMS ARNs ("arn:aws:kms:...:key/...") and Transit names fit as they are.
KEY_ID = re.compile(r"[!-#%-~]{1,512}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_VERSION_LIKE = re.compile(r"v[0-9]{1,3}")


class StoredForm(NamedTuple):
    provider: str
    key_id: str
    wrapped: bytes
    nonce: bytes
    ciphertext: bytes
    # The exact text of nonce and ciphertext, so rewrap can copy them byte for byte.
    nonce_text: str
    ciphertext_text: str


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    text = text.rstrip("=")
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise UnknownSealFormat("sealed value has a field that is not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def join(provider: str, key_id: str, wrapped_text: str, nonce_text: str, ct_text: str) -> str:
    return "$".join((FORMAT_VERSION, provider, key_id, wrapped_text, nonce_text, ct_text))


def parse(sealed: str) -> StoredForm:
    parts = sealed.split("$")
    if parts[0] != FORMAT_VERSION:
        # Name the version only when it looks like one: the input may be a stray secret.
        if len(parts) > 1 and _VERSION_LIKE.fullmatch(parts[0]):
            raise UnknownSealFormat(f"sealed value has format {parts[0]}; this build reads v1")
        raise UnknownSealFormat("not a sealed value")
    if len(parts) != _FIELDS:
        raise UnknownSealFormat(f"sealed value has {len(parts)} fields, expected {_FIELDS}")
    _, provider, key_id, wrapped_text, nonce_text, ciphertext_text = parts
    if not PROVIDER_NAME.fullmatch(provider) or not KEY_ID.fullmatch(key_id):
        raise UnknownSealFormat("sealed value names no usable KEK")
    nonce, ciphertext = _b64decode(nonce_text), _b64decode(ciphertext_text)
    if len(nonce) != NONCE_BYTES or len(ciphertext) < _TAG_BYTES:
        raise UnknownSealFormat("sealed value has a nonce or ciphertext of the wrong size")
    wrapped = _b64decode(wrapped_text)
    return StoredForm(provider, key_id, wrapped, nonce, ciphertext, nonce_text, ciphertext_text)
