"""Nothing the vault protects may show up in a repr, a str or an error message."""

import base64
import dataclasses

import pytest

from app.crypto import (
    AssociatedData,
    Envelope,
    EnvelopeError,
    KekUnavailable,
    KeyringConfigError,
    LocalKeyring,
    SealedValueUnreadable,
    UnknownSealFormat,
)

CANARY = b"CANARY-plaintext-7f3e9a"


def _key_forms(key: bytes) -> list[str]:
    return [
        base64.b64encode(key).decode(),
        base64.urlsafe_b64encode(key).decode().rstrip("="),
        key.hex(),
        repr(key),
    ]


def _assert_clean(shown: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in shown


def test_envelope_and_keyring_repr_name_only_ids(
    keks: dict[str, bytes], aad: AssociatedData
) -> None:
    keyring = LocalKeyring([("k2", keks["k2"]), ("k1", keks["k1"])])
    envelope = Envelope(keyring)
    assert repr(envelope) == "Envelope(provider='local', active_key_id='k2')"
    assert repr(keyring) == "LocalKeyring(key_ids=('k2', 'k1'), active='k2')"
    shown = repr(envelope) + str(envelope) + repr(keyring) + str(keyring)
    for kid in ("k1", "k2"):
        _assert_clean(shown, *_key_forms(keks[kid]))


async def test_errors_from_opening_carry_nothing(
    envelope: Envelope, aad: AssociatedData, keks: dict[str, bytes]
) -> None:
    sealed = await envelope.seal(CANARY, aad=aad)
    fields = sealed.split("$")
    secrets = [CANARY.decode(), sealed, *fields[3:], *_key_forms(keks["k1"])]
    attempts = [
        envelope.open(sealed, aad=dataclasses.replace(aad, purpose="other")),
        Envelope(LocalKeyring([("k1", keks["k2"])])).open(sealed, aad=aad),
        envelope.open("$".join([*fields[:5], fields[5][:-2] + "AA"]), aad=aad),
        envelope.open(sealed.replace("v1$", "v9$"), aad=aad),
        envelope.open(sealed + "$extra", aad=aad),
        envelope.open(CANARY.decode(), aad=aad),
        envelope.open(f"v1$local$k1${CANARY.decode()}$!!$!!", aad=aad),
    ]
    for attempt in attempts:
        with pytest.raises(EnvelopeError) as caught:
            await attempt
        _assert_clean(str(caught.value) + repr(caught.value), *secrets)
        assert caught.value.__cause__ is None


def test_every_error_has_a_fixed_or_descriptive_message() -> None:
    assert str(SealedValueUnreadable()) == "sealed value could not be opened"
    assert (
        repr(SealedValueUnreadable()) == "SealedValueUnreadable('sealed value could not be opened')"
    )
    for error in (SealedValueUnreadable, UnknownSealFormat, KekUnavailable):
        assert issubclass(error, EnvelopeError)
    assert issubclass(KeyringConfigError, ValueError)


def test_keyring_config_errors_never_echo_key_material() -> None:
    material = base64.b64encode(b"CANARY-key-material-0123456789ab").decode()
    for spec in (
        material,
        f"{material}:k1",
        f"k1:{material[:-4]}",
        f"k1:{material}!",
        f"k1:{material},k1:{material}",
    ):
        with pytest.raises(KeyringConfigError) as caught:
            LocalKeyring.parse(spec)
        _assert_clean(str(caught.value) + repr(caught.value), material, material[:-4], "CANARY")
