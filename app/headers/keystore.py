"""The one place that opens sealed secrets: the signing and token paths come here.

Decrypted signing keys are kept in a bounded LRU keyed by (credential id, version), so a
rotation naturally stops using the old entry and ``forget`` drops it at once on this replica.
The bound is small on purpose: an OpenSSL RSA key object costs several KB, the benchmark's
100,000-credential run showed 10,000 of them pushing a worker past its memory budget, and under
random access a larger cache barely raises the hit rate (a miss costs a query and an unseal).
Nothing here logs, and nothing returned carries a ``repr`` that shows key material.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.credentials.models import CredentialVersion
from app.credentials.secrets import TOKEN_PURPOSE, associated_data
from app.crypto import Envelope, load_sealed_pkcs8
from app.errors import NotFound
from app.headers.snapshot import CredentialSnapshot


class KeyStore:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        envelope: Envelope,
        *,
        max_keys: int = 2_000,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.envelope = envelope
        self.max_keys = max_keys
        self._keys: OrderedDict[tuple[uuid.UUID, int], RSAPrivateKey] = OrderedDict()

    def __repr__(self) -> str:
        return f"KeyStore(cached_keys={len(self._keys)})"

    async def signing_key(self, snapshot: CredentialSnapshot) -> RSAPrivateKey:
        slot = (snapshot.id, snapshot.version)
        key = self._keys.get(slot)
        if key is not None:
            self._keys.move_to_end(slot)
            return key
        key = load_sealed_pkcs8(await self.open_secret(snapshot))
        self._keys[slot] = key
        if len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)
        return key

    async def open_secret(self, snapshot: CredentialSnapshot) -> bytes:
        """The plaintext secret of the snapshot's version (PKCS#8 DER or client secret)."""
        if snapshot.sealed_secret is not None:  # read along with the snapshot
            return await self.envelope.open(
                snapshot.sealed_secret, aad=associated_data(snapshot, snapshot.version)
            )
        async with self.sessionmaker() as session:
            sealed = (
                await session.execute(
                    select(CredentialVersion.sealed_secret).where(
                        CredentialVersion.credential_id == snapshot.id,
                        CredentialVersion.version == snapshot.version,
                    )
                )
            ).scalar_one_or_none()
        if sealed is None:
            raise NotFound(f"Credential {snapshot.id} has no key material any more.")
        return await self.envelope.open(sealed, aad=associated_data(snapshot, snapshot.version))

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
            del self._keys[slot]
