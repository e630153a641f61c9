"""Envelope encryption of secrets stored in the vault.

Every sealed value gets its own random 256-bit data key (DEK). The value is encrypted with
AES-256-GCM under that DEK, and only the DEK is handed to a key-encryption-key provider
(local keyring, AWS KMS, Transit) to be wrapped. The stored form carries everything needed
to open it again::

    v1$<provider>$<key_id>$<wrapped DEK>$<nonce>$<ciphertext+tag>     (b64url, unpadded)

so a KEK rotation only re-wraps the small DEK (``rewrap``) and never touches the ciphertext,
and there is no side column naming the key that could drift from the value. The text form
is parsed in ``_stored_form``; the errors live in ``errors`` and are re-exported here.

Both layers are bound to the row the value belongs to: the GCM associated data is the
format version plus ``AssociatedData.encode()``, and the provider gets the same fields as
its encryption context. A sealed value copied to another credential, version or purpose
therefore fails to open. All failures to open look the same (``SealedValueUnreadable``):
telling a caller *why* authentication failed only helps someone probing the format.
"""

import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto import _stored_form as form
from app.crypto.errors import (
    EnvelopeError,
    KekUnavailable,
    SealedValueUnreadable,
    UnknownSealFormat,
)

__all__ = [
    "AssociatedData",
    "Envelope",
    "EnvelopeError",
    "KekProvider",
    "KekUnavailable",
    "SealedValueUnreadable",
    "UnknownSealFormat",
    "encode_context",
]

_DEK_BYTES = 32


def encode_context(context: Mapping[str, str]) -> bytes:
    """Canonical bytes of an encryption context: the same mapping always gives the same bytes."""
    # JSON with sorted keys quotes and escapes every field, so no choice of values can make
    # two different contexts encode alike (unlike joining with a separator).
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class AssociatedData:
    """The row a sealed value belongs to; opening it under any other row fails."""

    credential_id: str
    version: int
    account_id: str
    market: str
    environment: str
    purpose: str

    def context(self) -> dict[str, str]:
        """All fields as strings: the encryption context handed to the KEK provider."""
        return {
            "credential_id": self.credential_id,
            "version": str(self.version),
            "account_id": self.account_id,
            "market": self.market,
            "environment": self.environment,
            "purpose": self.purpose,
        }

    def encode(self) -> bytes:
        """Canonical, unambiguous bytes of the context, used as GCM associated data."""
        return encode_context(self.context())


class KekProvider(Protocol):
    """Wraps and unwraps data keys under key-encryption keys that never leave the provider."""

    @property
    def name(self) -> str:
        """Short provider name written into the sealed form ("local", "aws-kms", "transit")."""

    @property
    def active_key_id(self) -> str:
        """Id of the key that ``wrap`` uses now."""

    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        """Wrap ``dek`` under the active key, bound to ``context``; return (key_id, blob)."""

    async def unwrap(self, key_id: str, wrapped: bytes, *, context: Mapping[str, str]) -> bytes:
        """Return the DEK, or raise SealedValueUnreadable (KekUnavailable if unreachable)."""

    def knows(self, key_id: str) -> bool:
        """Whether ``key_id`` is one this provider can unwrap with."""


def _data_aad(aad: AssociatedData) -> bytes:
    # The version prefix keeps a future format from ever accepting a v1 ciphertext as its own.
    return form.FORMAT_VERSION.encode() + aad.encode()


class Envelope:
    """Seals and opens secrets with a fresh data key each, wrapped by a ``KekProvider``."""

    def __init__(self, provider: KekProvider) -> None:
        if not form.PROVIDER_NAME.fullmatch(provider.name):
            raise ValueError("KEK provider name must be 1-32 of a-z, 0-9, '-'")
        self._provider = provider

    def __repr__(self) -> str:
        return (
            f"Envelope(provider={self._provider.name!r}, "
            f"active_key_id={self._provider.active_key_id!r})"
        )

    async def _wrap(self, dek: bytes, aad: AssociatedData) -> tuple[str, bytes]:
        key_id, wrapped = await self._provider.wrap(dek, context=aad.context())
        if not form.KEY_ID.fullmatch(key_id):
            raise EnvelopeError("KEK provider returned a key id that cannot be stored")
        return key_id, wrapped

    async def _unwrap(self, sealed: form.StoredForm, aad: AssociatedData) -> bytes:
        if sealed.provider != self._provider.name or not self._provider.knows(sealed.key_id):
            raise SealedValueUnreadable()
        dek = await self._provider.unwrap(sealed.key_id, sealed.wrapped, context=aad.context())
        # AESGCM would also accept a 128- or 192-bit key; a DEK of any other size than the
        # one we made means the provider handed back something that is not our DEK.
        if len(dek) != _DEK_BYTES:
            raise SealedValueUnreadable()
        return dek

    async def seal(self, plaintext: bytes, *, aad: AssociatedData) -> str:
        """Encrypt ``plaintext`` under a new DEK bound to ``aad``; return the stored form."""
        dek = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(form.NONCE_BYTES)
        ciphertext = AESGCM(dek).encrypt(nonce, plaintext, _data_aad(aad))
        key_id, wrapped = await self._wrap(dek, aad)
        return form.join(
            self._provider.name,
            key_id,
            form.b64encode(wrapped),
            form.b64encode(nonce),
            form.b64encode(ciphertext),
        )

    async def open(self, sealed: str, *, aad: AssociatedData) -> bytes:
        """Decrypt a value sealed for exactly this ``aad``."""
        parsed = form.parse(sealed)
        dek = await self._unwrap(parsed, aad)
        try:
            return AESGCM(dek).decrypt(parsed.nonce, parsed.ciphertext, _data_aad(aad))
        except InvalidTag:
            raise SealedValueUnreadable() from None

    async def rewrap(self, sealed: str, *, aad: AssociatedData) -> str:
        """Move the DEK under the provider's active key; the ciphertext is left as it is."""
        parsed = form.parse(sealed)
        if parsed.provider == self._provider.name and parsed.key_id == self._provider.active_key_id:
            return sealed
        dek = await self._unwrap(parsed, aad)
        key_id, wrapped = await self._wrap(dek, aad)
        return form.join(
            self._provider.name,
            key_id,
            form.b64encode(wrapped),
            parsed.nonce_text,
            parsed.ciphertext_text,
        )

    @staticmethod
    def kek_of(sealed: str) -> tuple[str, str]:
        """(provider name, key id) a sealed value is wrapped under, without decrypting."""
        parsed = form.parse(sealed)
        return parsed.provider, parsed.key_id

    async def self_check(self) -> None:
        """Round-trip a throwaway DEK through the provider, for the readiness probe."""
        dek = AESGCM.generate_key(bit_length=256)
        context = {"purpose": "self-check"}
        key_id, wrapped = await self._provider.wrap(dek, context=context)
        unwrapped = await self._provider.unwrap(key_id, wrapped, context=context)
        if not hmac.compare_digest(unwrapped, dek):
            raise SealedValueUnreadable()
