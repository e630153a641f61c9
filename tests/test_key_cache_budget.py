"""The key store keeps decrypted keys within a memory budget, whatever their size."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization

from app.crypto import Envelope, LocalKeyring
from app.db import utcnow
from app.keys.binding import associated_data
from app.keys.keystore import KeyStore, resident_bytes
from app.keys.snapshot import CredentialSnapshot
from tests.factories import new_rsa_key


async def snapshot_with_key(envelope: Envelope, bits: int) -> CredentialSnapshot:
    der = new_rsa_key(bits).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    blank = CredentialSnapshot(
        id=uuid.uuid4(),
        account_id="budget",
        market="CA",
        environment="production",
        kind="signature",
        public_id="consumer",
        channel_type=None,
        version=1,
        status="valid",
        token_fetched_at=None,
        loaded_wall=utcnow(),
        loaded_at=time.monotonic(),
    )
    sealed = await envelope.seal(der, aad=associated_data(blank, 1))
    return dataclasses.replace(blank, sealed_secret=sealed)


@pytest.mark.parametrize(("bits", "kept"), [(1024, 3), (2048, 2)])
async def test_the_budget_counts_bytes_not_keys(bits: int, kept: int) -> None:
    envelope = Envelope(LocalKeyring.parse(LocalKeyring.generate_spec("budget")))
    snapshots = [await snapshot_with_key(envelope, bits) for _ in range(4)]
    one_kilobit_key = 5_400 + 1024 * 8 // 5
    store = KeyStore(envelope, max_bytes=3 * one_kilobit_key)  # three 1,024-bit keys
    keys = [await store.signing_key(s) for s in snapshots]
    assert all(resident_bytes(k) == 5_400 + bits * 8 // 5 for k in keys)
    assert f"cached_keys={kept}," in repr(store)
    # The least recently used went first; the newest is served from memory.
    assert await store.signing_key(snapshots[-1]) is keys[-1]
    assert await store.signing_key(snapshots[0]) is not keys[0]
