"""Local key-encryption keys: the ``KekProvider`` for development, tests and small installs.

The keyring is an ordered list of named 256-bit keys, configured as one setting
(``VAULT_LOCAL_KEKS``) of the form ``kid:base64(32 bytes),kid2:base64(...)``. The first key
wraps new data keys; every key can unwrap, so rotating is: put a new key first, ``rewrap``
every sealed value, then drop the old key. A DEK is wrapped with AES-256-GCM under the KEK
with the encryption context as associated data, exactly as a remote KMS binds its context,
so the local provider fails the same way the production ones do.

Key material never appears in an error or a ``repr``: configuration mistakes are reported
by entry number and key id, which is all an operator needs to find the bad entry.
"""

import base64
import binascii
import os
import re
import secrets
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto._binding import encode_context
from app.crypto.errors import SealedValueUnreadable
from app.crypto.secret_strength import too_weak

_WRAP_AAD_PREFIX = b"mports-vault/dek/v1"
_KEK_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class KeyringConfigError(ValueError):
    """The keyring setting is wrong; the message says where, never what the key was."""


class LocalKeyring:
    """A ``KekProvider`` holding its KEKs in process memory."""

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        self._keys: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if not _KEY_ID.fullmatch(key_id):
                raise KeyringConfigError("key ids must be 1-64 of A-Z a-z 0-9 _ . -")
            if key_id in self._keys:
                raise KeyringConfigError(f"duplicate key id {key_id!r}")
            if len(key) != _KEK_BYTES:
                raise KeyringConfigError(f"key {key_id!r} is {len(key)} bytes, need {_KEK_BYTES}")
            self._keys[key_id] = AESGCM(key)
        if not self._keys:
            raise KeyringConfigError("keyring is empty: give at least one kid:base64 entry")
        self._active = next(iter(self._keys))

    @classmethod
    def parse(cls, spec: str, *, refuse_weak: bool = False) -> "LocalKeyring":
        """Build a keyring from ``kid:base64,kid2:base64``; the first entry is active. With
        ``refuse_weak`` (production) a key of too little entropy (all zeros, say) is refused."""
        if not spec.strip():
            raise KeyringConfigError("keyring is empty: give at least one kid:base64 entry")
        keys: list[tuple[str, bytes]] = []
        for number, item in enumerate(spec.split(","), start=1):
            item = item.strip()
            if not item:
                raise KeyringConfigError(f"entry {number} is empty")
            if ":" not in item:
                raise KeyringConfigError(f"entry {number} has no ':'")
            key_id, _, encoded = (part.strip() for part in item.partition(":"))
            # Checked before the id is quoted anywhere: a pasted-in-the-wrong-place key
            # would otherwise land in the message.
            if not _KEY_ID.fullmatch(key_id):
                raise KeyringConfigError(
                    f"entry {number}: key id must be 1-64 of A-Z a-z 0-9 _ . -"
                )
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise KeyringConfigError(
                    f"entry {number} (key {key_id!r}) is not valid base64"
                ) from None
            if refuse_weak and len(key) == _KEK_BYTES and (reason := too_weak(key)) is not None:
                raise KeyringConfigError(
                    f"entry {number} (key {key_id!r}) {reason}; generate 32 random bytes"
                )
            keys.append((key_id, key))
        return cls(keys)

    @staticmethod
    def generate_spec(key_id: str) -> str:
        """A new ``kid:base64`` entry holding 32 fresh random bytes."""
        if not _KEY_ID.fullmatch(key_id):
            raise KeyringConfigError("key ids must be 1-64 of A-Z a-z 0-9 _ . -")
        return f"{key_id}:{base64.b64encode(secrets.token_bytes(_KEK_BYTES)).decode('ascii')}"

    @property
    def name(self) -> str:
        return "local"

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys

    def __repr__(self) -> str:
        return f"LocalKeyring(key_ids={self.key_ids!r}, active={self._active!r})"

    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        nonce = os.urandom(_NONCE_BYTES)
        wrapped = self._keys[self._active].encrypt(nonce, dek, _wrap_aad(context))
        return self._active, nonce + wrapped

    async def unwrap(self, key_id: str, wrapped: bytes, *, context: Mapping[str, str]) -> bytes:
        kek = self._keys.get(key_id)
        # A blob too short to hold nonce and tag is one more way of not being a DEK we
        # wrapped, so it gets the same opaque error as a failed tag.
        if kek is None or len(wrapped) < _NONCE_BYTES + _TAG_BYTES:
            raise SealedValueUnreadable()
        try:
            return kek.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _wrap_aad(context))
        except InvalidTag:
            raise SealedValueUnreadable() from None


def _wrap_aad(context: Mapping[str, str]) -> bytes:
    return _WRAP_AAD_PREFIX + encode_context(context)
