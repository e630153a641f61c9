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

Moving between providers (keyring to Transit, one KMS key to another) is a deployment with
the new provider active and the old ones in ``others``: ``seal`` and ``rewrap`` always use
the active provider, ``open`` uses whichever provider has the stored form's name and knows
its key id, and a background ``rewrap`` of every value empties the old provider out.
Unwrapped DEKs are cached (``_dek_cache`` explains why that is safe), so a slow or absent
remote KMS is not asked again for a value opened in the last ``dek_cache_ttl`` seconds.
"""

import hmac
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto import _stored_form as form
from app.crypto._binding import AssociatedData, encode_context
from app.crypto._dek_cache import DekCache
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

    def __init__(
        self,
        provider: KekProvider,
        *,
        others: Sequence[KekProvider] = (),
        dek_cache_size: int = 1024,
        dek_cache_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._providers = (provider, *others)
        if not all(form.PROVIDER_NAME.fullmatch(p.name) for p in self._providers):
            raise ValueError("KEK provider name must be 1-32 of a-z, 0-9, '-'")
        self._provider = provider
        self._cache = DekCache(size=dek_cache_size, ttl=dek_cache_ttl, clock=clock)
        # Wraps per (provider, key id) since the last ``take_wrap_counts``: AES-GCM under one
        # key with random 96-bit nonces is good for 2^32 of them (NIST SP 800-38D).
        self._wraps: Counter[tuple[str, str]] = Counter()

    def __repr__(self) -> str:
        shown = f"provider={self._provider.name!r}, active_key_id={self._provider.active_key_id!r}"
        if others := tuple(p.name for p in self._providers[1:]):
            shown += f", others={others!r}"
        return f"Envelope({shown})"

    @property
    def active_kek(self) -> tuple[str, str]:
        """(provider name, key id) that ``seal`` and ``rewrap`` use now, as ``kek_of`` reads."""
        return self._provider.name, self._provider.active_key_id

    def cached_deks(self) -> int:
        """How many unwrapped DEKs are held now (expired ones are not counted)."""
        return len(self._cache)

    def clear_dek_cache(self) -> None:
        """Forget every cached DEK, e.g. after revoking a KEK that must stop working now."""
        self._cache.clear()

    def take_wrap_counts(self) -> Counter[tuple[str, str]]:
        """The data keys wrapped per (provider, key id) since the last call, and reset."""
        taken, self._wraps = self._wraps, Counter()
        return taken

    def return_wrap_counts(self, counts: Counter[tuple[str, str]]) -> None:
        """Give back counts that could not be stored, to be taken again later."""
        self._wraps.update(counts)

    async def _wrap(self, dek: bytes, aad: AssociatedData) -> tuple[str, bytes]:
        key_id, wrapped = await self._provider.wrap(dek, context=aad.context())
        self._wraps[(self._provider.name, key_id)] += 1
        if not form.KEY_ID.fullmatch(key_id):
            raise EnvelopeError("KEK provider returned a key id that cannot be stored")
        return key_id, wrapped

    def _provider_for(self, sealed: form.StoredForm) -> KekProvider:
        # Several providers may share a name (an old and a new KMS key): the key id decides.
        for provider in self._providers:
            if provider.name == sealed.provider and provider.knows(sealed.key_id):
                return provider
        raise SealedValueUnreadable()

    async def _unwrap(self, sealed: form.StoredForm, aad: AssociatedData) -> bytes:
        provider = self._provider_for(sealed)
        cache_key = (sealed.provider, sealed.key_id, sealed.wrapped)
        dek = self._cache.get(cache_key)
        if dek is None:
            dek = await provider.unwrap(sealed.key_id, sealed.wrapped, context=aad.context())
            # AESGCM would also accept a 128- or 192-bit key; a DEK of any other size than
            # the one we made means the provider handed back something that is not our DEK.
            if len(dek) != _DEK_BYTES:
                raise SealedValueUnreadable()
            self._cache.put(cache_key, dek)
        return dek

    @staticmethod
    def _decrypt(sealed: form.StoredForm, dek: bytes, aad: AssociatedData) -> bytes:
        try:
            return AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, _data_aad(aad))
        except InvalidTag:
            raise SealedValueUnreadable() from None

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
        """Decrypt a value sealed for exactly this ``aad``, under any configured provider."""
        parsed = form.parse(sealed)
        return self._decrypt(parsed, await self._unwrap(parsed, aad), aad)

    async def rewrap(self, sealed: str, *, aad: AssociatedData) -> str:
        """Move the DEK under the active provider and key; the ciphertext is left as it is."""
        parsed = form.parse(sealed)
        if parsed.provider == self._provider.name and parsed.key_id == self._provider.active_key_id:
            return sealed
        dek = await self._unwrap(parsed, aad)
        # The DEK may come from the cache, which skips the old provider's context check, so
        # the value itself must open under ``aad`` before its DEK is re-bound to ``aad``.
        self._decrypt(parsed, dek, aad)
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
        """Round-trip a throwaway DEK through the active provider, for the readiness probe."""
        # Never through the cache: the probe is there to notice a provider that stopped working.
        dek = AESGCM.generate_key(bit_length=256)
        context = {"purpose": "self-check"}
        key_id, wrapped = await self._provider.wrap(dek, context=context)
        self._wraps[(self._provider.name, key_id)] += 1
        unwrapped = await self._provider.unwrap(key_id, wrapped, context=context)
        if not hmac.compare_digest(unwrapped, dek):
            raise SealedValueUnreadable()
