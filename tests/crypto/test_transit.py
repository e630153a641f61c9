"""The Transit provider against a real OpenBao server on loopback, through the envelope."""

import base64
import dataclasses
from collections.abc import AsyncIterator

import pytest

from app.crypto import (
    AssociatedData,
    Envelope,
    EnvelopeError,
    KekUnavailable,
    SealedValueUnreadable,
)
from app.crypto.transit import TransitProvider
from tests.kms_servers import BaoServer

PLAINTEXT = b"walmart-client-secret-for-transit"
KEY = "vault-test"


def _transit(
    bao: BaoServer,
    key_name: str = KEY,
    *,
    token: str | None = None,
    mount: str = "transit",
    namespace: str | None = None,
) -> TransitProvider:
    return TransitProvider(
        address=bao.address,
        token=token or bao.token,
        key_name=key_name,
        mount=mount,
        namespace=namespace,
        timeout=2.0,
    )


@pytest.fixture
async def transit(bao_server: BaoServer) -> AsyncIterator[TransitProvider]:
    provider = _transit(bao_server)
    await provider.ensure_key()
    yield provider
    await provider.aclose()


def _wrapped(sealed: str) -> bytes:
    text = sealed.split("$")[3]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _with_wrapped(sealed: str, wrapped: bytes) -> str:
    fields = sealed.split("$")
    fields[3] = base64.urlsafe_b64encode(wrapped).rstrip(b"=").decode()
    return "$".join(fields)


async def test_round_trip(transit: TransitProvider, aad: AssociatedData) -> None:
    sealed = await Envelope(transit).seal(PLAINTEXT, aad=aad)
    assert Envelope.kek_of(sealed) == ("transit", KEY)
    assert _wrapped(sealed).startswith(b"vault:v1:")
    assert await Envelope(transit).open(sealed, aad=aad) == PLAINTEXT
    await Envelope(transit).self_check()


@pytest.mark.parametrize("cache", ["cold", "warm"])
async def test_associated_data_binds(
    transit: TransitProvider, aad: AssociatedData, cache: str
) -> None:
    envelope = Envelope(transit)
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    if cache == "warm":
        assert await envelope.open(sealed, aad=aad) == PLAINTEXT
    other = dataclasses.replace(aad, market="MX")
    with pytest.raises(SealedValueUnreadable):
        await envelope.open(sealed, aad=other)
    # Transit itself refuses the DEK under other associated data.
    with pytest.raises(SealedValueUnreadable):
        await transit.unwrap(KEY, _wrapped(sealed), context=other.context())


@pytest.mark.parametrize(("position", "flip"), [(9, 0x01), (20, 0x01), (-1, 0x01), (12, 0x80)])
async def test_tampered_wrapped_dek_fails_closed(
    transit: TransitProvider, aad: AssociatedData, position: int, flip: int
) -> None:
    sealed = await Envelope(transit).seal(PLAINTEXT, aad=aad)
    wrapped = bytearray(_wrapped(sealed))
    wrapped[position] ^= flip
    with pytest.raises(SealedValueUnreadable):
        await Envelope(transit).open(_with_wrapped(sealed, bytes(wrapped)), aad=aad)


async def test_wrong_and_unknown_keys(
    bao_server: BaoServer, transit: TransitProvider, aad: AssociatedData
) -> None:
    sealed = await Envelope(transit).seal(PLAINTEXT, aad=aad)
    bao_server.create_key("vault-test-other")
    other = _transit(bao_server, "vault-test-other")
    never_created = _transit(bao_server, "vault-test-never-created")
    with pytest.raises(SealedValueUnreadable):
        await Envelope(other).open(sealed, aad=aad)
    for provider in (other, never_created):
        with pytest.raises(SealedValueUnreadable):
            await provider.unwrap(provider.active_key_id, _wrapped(sealed), context=aad.context())
        await provider.aclose()
    with pytest.raises(SealedValueUnreadable):
        await transit.unwrap("vault-test-other", _wrapped(sealed), context=aad.context())


async def test_bad_token_is_unavailable_and_named(
    bao_server: BaoServer, transit: TransitProvider, aad: AssociatedData
) -> None:
    sealed = await Envelope(transit).seal(PLAINTEXT, aad=aad)
    bad = _transit(bao_server, token="s.not-a-real-token-9f8e7d")
    for attempt in (Envelope(bad).seal(PLAINTEXT, aad=aad), Envelope(bad).open(sealed, aad=aad)):
        with pytest.raises(KekUnavailable, match=r"refused the vault token \(HTTP 403\)") as caught:
            await attempt
        assert "not-a-real-token" not in str(caught.value)
    with pytest.raises(KekUnavailable, match="token"):
        await bad.ensure_key()
    await bad.aclose()


async def test_least_privilege_token_cannot_create_a_key_by_typo(
    bao_server: BaoServer, transit: TransitProvider, aad: AssociatedData
) -> None:
    token = bao_server.create_token(
        f'path "transit/encrypt/{KEY}" {{ capabilities = ["update"] }}\n'
        f'path "transit/decrypt/{KEY}" {{ capabilities = ["update"] }}\n'
    )
    scoped = _transit(bao_server, token=token)
    sealed = await Envelope(scoped).seal(PLAINTEXT, aad=aad)
    assert await Envelope(transit).open(sealed, aad=aad) == PLAINTEXT
    typo = _transit(bao_server, "vault-tset", token=token)
    with pytest.raises(KekUnavailable, match="HTTP 403"):
        await Envelope(typo).seal(PLAINTEXT, aad=aad)
    for provider in (scoped, typo):
        await provider.aclose()


async def test_missing_mount_is_unavailable(
    bao_server: BaoServer, transit: TransitProvider, aad: AssociatedData
) -> None:
    sealed = await Envelope(transit).seal(PLAINTEXT, aad=aad)
    wrong = _transit(bao_server, mount="no-such-transit")
    with pytest.raises(KekUnavailable, match="HTTP 404"):
        await Envelope(wrong).open(sealed, aad=aad)
    with pytest.raises(KekUnavailable, match="HTTP 404"):
        await wrong.ensure_key()
    await wrong.aclose()


async def test_ensure_key_creates_once_and_checks_the_type(bao_server: BaoServer) -> None:
    provider = _transit(bao_server, "vault-test-ensure")
    await provider.ensure_key()
    await provider.ensure_key()
    info = bao_server.request("GET", "transit/keys/vault-test-ensure")
    assert info["data"]["type"] == "aes256-gcm96"
    with pytest.raises(EnvelopeError, match="is aes256-gcm96, not chacha20-poly1305"):
        await provider.ensure_key("chacha20-poly1305")
    await provider.aclose()


async def test_namespace_header_is_sent(bao_server: BaoServer, aad: AssociatedData) -> None:
    bao_server.request("POST", "sys/namespaces/team-a")
    bao_server.request("POST", "sys/mounts/transit", {"type": "transit"}, namespace="team-a")
    scoped = _transit(bao_server, namespace="team-a")
    await scoped.ensure_key()
    sealed = await Envelope(scoped).seal(PLAINTEXT, aad=aad)
    assert await Envelope(scoped).open(sealed, aad=aad) == PLAINTEXT
    root = _transit(bao_server, "vault-test-root-only")
    await root.ensure_key()
    with pytest.raises(SealedValueUnreadable):
        await root.unwrap(root.active_key_id, _wrapped(sealed), context=aad.context())
    for provider in (scoped, root):
        await provider.aclose()


async def test_repr_leaks_no_token(transit: TransitProvider, bao_server: BaoServer) -> None:
    shown = repr(transit) + str(transit)
    assert shown.startswith(f"TransitProvider(address='{bao_server.address}', mount='transit'")
    assert bao_server.token not in shown
    assert "token" not in shown.lower()
