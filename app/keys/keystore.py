"""The one place that opens sealed secrets: the signing, token and live-test paths come here,
and so do App Store refresh tokens and app secrets and webhook signing secrets (the functions
below, for callers that hold the envelope rather than the key store). A test holds every other
module to this: none calls ``.open(`` on an envelope.

It opens what it is handed (a snapshot carries its current version's sealed secret, read with
it in one query) and reads no table itself. Decrypted signing keys are kept in an LRU keyed by
(credential id, version), so a rotation naturally stops using the old entry and ``forget``
drops it at once. The LRU is bounded by the memory its keys hold (``VAULT_KEY_CACHE_MB``), not
by their number (a key object that has signed holds several KB, more for a longer modulus),
and in time: a key leaves memory an hour after it was opened.
Nothing here logs, and nothing returned carries a ``repr`` that shows key material.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from cachetools import TTLCache
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from app.crypto import Envelope, load_sealed_pkcs8
from app.errors import NotFound
from app.keys.binding import (
    TOKEN_PURPOSE,
    AppRef,
    CredentialRef,
    app_secret_binding,
    associated_data,
    webhook_secret_binding,
)
from app.keys.snapshot import CredentialSnapshot

# A decrypted key leaves memory this long after it was opened, used or not: a hot key costs
# one more unseal an hour, a key nobody asks for again does not stay.
KEY_SECONDS = 3600


def resident_bytes(key: RSAPrivateKey) -> int:
    """What a key object holds once it has signed (OpenSSL's key with its Montgomery contexts
    and blinding): the benchmark's miss-cost lines measure it per key size; about 7 KB at
    1,024 bits and 8.5 KB at 2,048."""
    return 5_400 + key.key_size * 8 // 5


class KeyStore:
    def __init__(
        self,
        envelope: Envelope,
        *,
        max_bytes: int,
        on_miss: Callable[[], object] = lambda: None,
    ) -> None:
        self.envelope = envelope
        self._on_miss = on_miss  # counted by the wiring (``vault_key_cache_misses_total``)
        self._keys: TTLCache[tuple[uuid.UUID, int], RSAPrivateKey] = TTLCache(
            maxsize=max_bytes, getsizeof=resident_bytes, ttl=KEY_SECONDS
        )

    def __repr__(self) -> str:
        return f"KeyStore(cached_keys={len(self._keys)}, bytes={self._keys.currsize})"

    async def signing_key(self, snapshot: CredentialSnapshot) -> RSAPrivateKey:
        slot = (snapshot.id, snapshot.version)
        key = self._keys.get(slot)
        if key is None:
            key = self._keys[slot] = load_sealed_pkcs8(await self.open_secret(snapshot))
            self._on_miss()
        return key

    async def open_secret(self, snapshot: CredentialSnapshot) -> bytes:
        """The plaintext secret of the snapshot's version (PKCS#8 DER or client secret)."""
        if snapshot.sealed_secret is None:  # destroyed: the credential was deleted meanwhile
            raise NotFound(f"Credential {snapshot.id} has no key material any more.")
        return await self.envelope.open(
            snapshot.sealed_secret, aad=associated_data(snapshot, snapshot.version)
        )

    async def seal_token(self, snapshot: CredentialSnapshot, token: str) -> str:
        return await self.envelope.seal(
            token.encode(), aad=associated_data(snapshot, snapshot.version, TOKEN_PURPOSE)
        )

    async def open_token(self, snapshot: CredentialSnapshot, sealed: str) -> str:
        plaintext = await self.envelope.open(
            sealed, aad=associated_data(snapshot, snapshot.version, TOKEN_PURPOSE)
        )
        return plaintext.decode()

    def forget(self, credential_id: uuid.UUID) -> None:
        for slot in [s for s in self._keys if s[0] == credential_id]:
            self._keys.pop(slot, None)


async def open_refresh_token(
    envelope: Envelope, credential: CredentialRef, version: int, sealed: str
) -> str:
    """An App Store connection's refresh token: the sealed secret of its credential version."""
    return (await envelope.open(sealed, aad=associated_data(credential, version))).decode()


async def open_app_secret(envelope: Envelope, app: AppRef, sealed: str) -> str:
    aad = app_secret_binding(app.id, app.secret_version, app.environment)
    return (await envelope.open(sealed, aad=aad)).decode()


async def open_webhook_secret(
    envelope: Envelope, endpoint_id: uuid.UUID, version: int, sealed: str
) -> str:
    return (await envelope.open(sealed, aad=webhook_secret_binding(endpoint_id, version))).decode()
