"""Invariants of envelope encryption, run against the local keyring."""

import base64
import dataclasses
from typing import Any

import pytest

from app.crypto import (
    AssociatedData,
    Envelope,
    LocalKeyring,
    SealedValueUnreadable,
    UnknownSealFormat,
)
from app.crypto.envelope import encode_context
from tests.crypto.odd_provider import OddProvider

PLAINTEXT = b"MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAw-not-a-real-key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _flip(field: str, position: int) -> str:
    raw = bytearray(_unb64(field))
    raw[position] ^= 0x01
    return _b64(bytes(raw))


async def test_round_trip(envelope: Envelope, aad: AssociatedData) -> None:
    for plaintext in (PLAINTEXT, b"", bytes(range(256)) * 100):
        sealed = await envelope.seal(plaintext, aad=aad)
        assert await envelope.open(sealed, aad=aad) == plaintext


async def test_sealed_form_is_versioned_ascii_with_six_fields(
    envelope: Envelope, aad: AssociatedData
) -> None:
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    assert sealed.isascii()
    version, provider, key_id, wrapped, nonce, ciphertext = sealed.split("$")
    assert (version, provider, key_id) == ("v1", "local", "k1")
    assert "=" not in sealed
    assert len(_unb64(nonce)) == 12
    assert len(_unb64(ciphertext)) == len(PLAINTEXT) + 16
    assert len(_unb64(wrapped)) == 12 + 32 + 16


async def test_fresh_dek_and_nonce_each_time(envelope: Envelope, aad: AssociatedData) -> None:
    first = (await envelope.seal(PLAINTEXT, aad=aad)).split("$")
    second = (await envelope.seal(PLAINTEXT, aad=aad)).split("$")
    assert first[3] != second[3], "wrapped DEK repeated"
    assert first[4] != second[4], "nonce repeated"
    assert first[5] != second[5], "ciphertext repeated"


async def test_padded_fields_are_accepted(envelope: Envelope, aad: AssociatedData) -> None:
    fields = (await envelope.seal(PLAINTEXT, aad=aad)).split("$")
    padded = [f + "=" * (-len(f) % 4) if i >= 3 else f for i, f in enumerate(fields)]
    assert await envelope.open("$".join(padded), aad=aad) == PLAINTEXT


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(AssociatedData)])
async def test_aad_binds_to_the_row(envelope: Envelope, aad: AssociatedData, field: str) -> None:
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    changes: dict[str, Any] = {field: 4 if field == "version" else getattr(aad, field) + "x"}
    with pytest.raises(SealedValueUnreadable, match=r"^sealed value could not be opened$"):
        await envelope.open(sealed, aad=dataclasses.replace(aad, **changes))


def test_associated_data_context_is_all_strings_and_canonical(aad: AssociatedData) -> None:
    context = aad.context()
    assert set(context) == {f.name for f in dataclasses.fields(AssociatedData)}
    assert context["version"] == "3"
    assert all(isinstance(value, str) for value in context.values())
    assert aad.encode() == encode_context(dict(reversed(list(context.items()))))
    assert aad.encode().startswith(b'{"account_id":"acme-001","credential_id"')


def test_associated_data_encoding_is_unambiguous(aad: AssociatedData) -> None:
    # Plain concatenation would make these two rows share associated data.
    one = dataclasses.replace(aad, account_id="a|b", market="c")
    two = dataclasses.replace(aad, account_id="a", market="b|c")
    assert one.encode() != two.encode()


@pytest.mark.parametrize(("index", "position"), [(3, 0), (3, -1), (4, 0), (4, 11), (5, 0), (5, -1)])
async def test_tampering_fails_closed(
    envelope: Envelope, aad: AssociatedData, index: int, position: int
) -> None:
    fields = (await envelope.seal(PLAINTEXT, aad=aad)).split("$")
    fields[index] = _flip(fields[index], position)
    with pytest.raises(SealedValueUnreadable):
        await envelope.open("$".join(fields), aad=aad)


async def test_truncated_wrapped_dek_fails_closed(envelope: Envelope, aad: AssociatedData) -> None:
    fields = (await envelope.seal(PLAINTEXT, aad=aad)).split("$")
    fields[3] = _b64(_unb64(fields[3])[:20])
    with pytest.raises(SealedValueUnreadable):
        await envelope.open("$".join(fields), aad=aad)


@pytest.mark.parametrize(
    ("sealed", "message"),
    [
        ("", "not a sealed value"),
        ("garbage", "not a sealed value"),
        ("v1", "1 fields, expected 6"),
        ("V1$local$k1$AAAA$AAAA$AAAA", "not a sealed value"),
        ("v2$local$k1$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "format v2; this build"),
        ("v1$local$k1$AAAA$AAAAAAAAAAAAAAAA", "5 fields, expected 6"),
        ("v1$local$k1$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA$x", "7 fields"),
        ("v1$Local$k1$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "no usable KEK"),
        ("v1$local$k 1$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "no usable KEK"),
        ("v1$local$$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "no usable KEK"),
        ("v1$local$k1$AA+A$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "not base64url"),
        ("v1$local$k1$AAAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "not base64url"),
        ("v1$local$k1$AAAA$AAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "wrong size"),
        ("v1$local$k1$AAAA$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAA", "wrong size"),
    ],
)
async def test_unknown_format_refused(
    envelope: Envelope, aad: AssociatedData, sealed: str, message: str
) -> None:
    with pytest.raises(UnknownSealFormat, match=message):
        await envelope.open(sealed, aad=aad)
    with pytest.raises(UnknownSealFormat):
        Envelope.kek_of(sealed)
    with pytest.raises(UnknownSealFormat):
        await envelope.rewrap(sealed, aad=aad)


async def test_wrong_kek_refused(
    envelope: Envelope, aad: AssociatedData, keks: dict[str, bytes]
) -> None:
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    same_id_other_key = Envelope(LocalKeyring([("k1", keks["k2"])]))
    missing_id = Envelope(LocalKeyring([("k2", keks["k2"]), ("k3", keks["k3"])]))
    for other in (same_id_other_key, missing_id):
        with pytest.raises(SealedValueUnreadable):
            await other.open(sealed, aad=aad)
    with pytest.raises(SealedValueUnreadable):
        await missing_id.rewrap(sealed, aad=aad)


async def test_other_provider_refused(
    envelope: Envelope, aad: AssociatedData, keyring: LocalKeyring
) -> None:
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    transit = Envelope(OddProvider(keyring, name="transit"))
    with pytest.raises(SealedValueUnreadable):
        await transit.open(sealed, aad=aad)
    with pytest.raises(SealedValueUnreadable):
        await transit.rewrap(sealed, aad=aad)
