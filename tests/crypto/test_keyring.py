"""The local KEK provider: its setting format, its errors and its wrapping."""

import base64
import os

import pytest

from app.crypto import KekProvider, KeyringConfigError, LocalKeyring, SealedValueUnreadable

CONTEXT = {"credential_id": "c1", "version": "1", "purpose": "private_key"}


def _spec(*entries: tuple[str, bytes]) -> str:
    return ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in entries)


def test_parse_keeps_order_and_first_is_active(keks: dict[str, bytes]) -> None:
    spec = f"  {_spec(('k2', keks['k2']))} ,\n k1 : {base64.b64encode(keks['k1']).decode()} "
    keyring = LocalKeyring.parse(spec)
    assert keyring.key_ids == ("k2", "k1")
    assert keyring.active_key_id == "k2"
    assert keyring.name == "local"
    assert keyring.knows("k1")
    assert not keyring.knows("k3")


def test_local_keyring_is_a_kek_provider(keyring: LocalKeyring) -> None:
    provider: KekProvider = keyring
    assert provider.name == "local"


def test_generate_spec_makes_a_usable_random_entry() -> None:
    first, second = LocalKeyring.generate_spec("k-2025.01"), LocalKeyring.generate_spec("k_2")
    assert first.startswith("k-2025.01:")
    assert len(base64.b64decode(first.partition(":")[2], validate=True)) == 32
    assert first.partition(":")[2] != second.partition(":")[2]
    assert LocalKeyring.parse(f"{first},{second}").key_ids == ("k-2025.01", "k_2")
    with pytest.raises(KeyringConfigError, match="key ids must be"):
        LocalKeyring.generate_spec("bad id")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "keyring is empty"),
        (" \n ", "keyring is empty"),
        ("k1:{k1},", "entry 2 is empty"),
        ("k1:{k1},,k2:{k2}", "entry 2 is empty"),
        ("k1:{k1},{k2}", "entry 2 has no ':'"),
        (":{k1}", "entry 1: key id must be 1-64 of"),
        ("{k2}:{k1}", "entry 1: key id must be 1-64 of"),
        ("k1:{k1},{long_id}:{k2}", "entry 2: key id must be 1-64 of"),
        ("k1:{k1},k2:not base64!", "entry 2 (key 'k2') is not valid base64"),
        ("k1:{k1},k2:", "key 'k2' is 0 bytes, need 32"),
        ("k1:{k1},k2:{short}", "key 'k2' is 16 bytes, need 32"),
        ("k1:{k1},k1:{k2}", "duplicate key id 'k1'"),
    ],
)
def test_parse_says_what_is_wrong_without_key_material(
    keks: dict[str, bytes], spec: str, message: str
) -> None:
    secrets = {
        "k1": base64.b64encode(keks["k1"]).decode(),
        "k2": base64.b64encode(keks["k2"]).decode(),
        "short": base64.b64encode(os.urandom(16)).decode(),
    }
    filled = spec.format(long_id="k" * 65, **secrets)
    with pytest.raises(KeyringConfigError) as caught:
        LocalKeyring.parse(filled)
    assert message in str(caught.value)
    for secret in secrets.values():
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value)
    assert isinstance(caught.value, ValueError)


def test_constructor_checks_what_parse_checks(keks: dict[str, bytes]) -> None:
    with pytest.raises(KeyringConfigError, match="keyring is empty"):
        LocalKeyring([])
    with pytest.raises(KeyringConfigError, match="key ids must be"):
        LocalKeyring([("no spaces", keks["k1"])])


async def test_wrap_round_trip_bound_to_context(keyring: LocalKeyring) -> None:
    dek = os.urandom(32)
    key_id, wrapped = await keyring.wrap(dek, context=CONTEXT)
    assert key_id == "k1"
    assert dek not in wrapped
    assert await keyring.unwrap(key_id, wrapped, context=CONTEXT) == dek
    with pytest.raises(SealedValueUnreadable):
        await keyring.unwrap(key_id, wrapped, context={**CONTEXT, "version": "2"})
    with pytest.raises(SealedValueUnreadable):
        await keyring.unwrap(key_id, wrapped, context={})


async def test_unwrap_fails_closed(keyring: LocalKeyring, keks: dict[str, bytes]) -> None:
    key_id, wrapped = await keyring.wrap(os.urandom(32), context=CONTEXT)
    for bad_id, blob in [
        ("k9", wrapped),
        (key_id, wrapped[:27]),
        (key_id, b""),
        (key_id, wrapped[:-1]),
        (key_id, bytes([wrapped[0] ^ 1]) + wrapped[1:]),
    ]:
        with pytest.raises(SealedValueUnreadable):
            await keyring.unwrap(bad_id, blob, context=CONTEXT)
    other = LocalKeyring([("k1", keks["k2"])])
    with pytest.raises(SealedValueUnreadable):
        await other.unwrap(key_id, wrapped, context=CONTEXT)


async def test_every_key_unwraps_but_only_the_first_wraps(keks: dict[str, bytes]) -> None:
    old = LocalKeyring([("k1", keks["k1"])])
    _, wrapped = await old.wrap(bytes(32), context=CONTEXT)
    rotated = LocalKeyring([("k2", keks["k2"]), ("k1", keks["k1"])])
    assert await rotated.unwrap("k1", wrapped, context=CONTEXT) == bytes(32)
    assert (await rotated.wrap(bytes(32), context=CONTEXT))[0] == "k2"
