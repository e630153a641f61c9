"""Rotation, KEK lookup and readiness: what the envelope does with and around providers."""

import dataclasses

import pytest

from app.crypto import (
    AssociatedData,
    Envelope,
    EnvelopeError,
    KekUnavailable,
    LocalKeyring,
    SealedValueUnreadable,
)
from tests.crypto.odd_provider import OddProvider

PLAINTEXT = b"client-secret-for-rotation"


async def test_keyring_rotation(aad: AssociatedData, keks: dict[str, bytes]) -> None:
    old = Envelope(LocalKeyring([("k1", keks["k1"])]))
    sealed = await old.seal(PLAINTEXT, aad=aad)

    both = Envelope(LocalKeyring([("k2", keks["k2"]), ("k1", keks["k1"])]))
    assert await both.open(sealed, aad=aad) == PLAINTEXT
    moved = await both.rewrap(sealed, aad=aad)
    assert Envelope.kek_of(moved) == ("local", "k2")
    assert moved.split("$")[4:] == sealed.split("$")[4:], "nonce or ciphertext changed"
    assert moved.split("$")[3] != sealed.split("$")[3]
    assert await both.rewrap(moved, aad=aad) is moved

    new = Envelope(LocalKeyring([("k2", keks["k2"])]))
    assert await new.open(moved, aad=aad) == PLAINTEXT
    with pytest.raises(SealedValueUnreadable):
        await new.open(sealed, aad=aad)


async def test_rewrap_keeps_padded_fields_byte_for_byte(
    aad: AssociatedData, keks: dict[str, bytes]
) -> None:
    sealed = await Envelope(LocalKeyring([("k1", keks["k1"])])).seal(PLAINTEXT, aad=aad)
    fields = sealed.split("$")
    fields[4] += "=" * (-len(fields[4]) % 4)
    padded = "$".join(fields)
    moved = await Envelope(LocalKeyring([("k2", keks["k2"]), ("k1", keks["k1"])])).rewrap(
        padded, aad=aad
    )
    assert moved.split("$")[4:] == padded.split("$")[4:]


async def test_rewrap_under_another_row_refused(
    aad: AssociatedData, keks: dict[str, bytes]
) -> None:
    sealed = await Envelope(LocalKeyring([("k1", keks["k1"])])).seal(PLAINTEXT, aad=aad)
    both = Envelope(LocalKeyring([("k2", keks["k2"]), ("k1", keks["k1"])]))
    with pytest.raises(SealedValueUnreadable):
        await both.rewrap(sealed, aad=dataclasses.replace(aad, version=4))


async def test_kek_of_reads_without_decrypting(envelope: Envelope, aad: AssociatedData) -> None:
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    assert Envelope.kek_of(sealed) == ("local", "k1")
    arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    fields = sealed.split("$")
    fields[1:3] = ["aws-kms", arn]
    assert Envelope.kek_of("$".join(fields)) == ("aws-kms", arn)


async def test_self_check(envelope: Envelope, keyring: LocalKeyring) -> None:
    await envelope.self_check()
    with pytest.raises(SealedValueUnreadable):
        await Envelope(OddProvider(keyring, dek=bytes(32))).self_check()
    with pytest.raises(KekUnavailable):
        await Envelope(OddProvider(keyring, unavailable=True)).self_check()


async def test_provider_handing_back_a_short_dek_refused(
    keyring: LocalKeyring, aad: AssociatedData
) -> None:
    envelope = Envelope(OddProvider(keyring, dek=bytes(16)))
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    with pytest.raises(SealedValueUnreadable):
        await envelope.open(sealed, aad=aad)


async def test_provider_key_id_that_cannot_be_stored_refused(
    keyring: LocalKeyring, aad: AssociatedData
) -> None:
    for bad in ("k$1", "", "k 1", "clé"):
        with pytest.raises(EnvelopeError, match="cannot be stored"):
            await Envelope(OddProvider(keyring, key_id=bad)).seal(PLAINTEXT, aad=aad)


def test_provider_name_must_fit_the_format(keyring: LocalKeyring) -> None:
    for bad in ("", "Local", "a$b", "x" * 33):
        with pytest.raises(ValueError, match="provider name"):
            Envelope(OddProvider(keyring, name=bad))
