"""An envelope over several KEK providers, and its cache of unwrapped DEKs."""

import dataclasses
from collections.abc import AsyncIterator, Mapping

import pytest

from app.crypto import AssociatedData, Envelope, LocalKeyring, SealedValueUnreadable
from app.crypto.transit import TransitProvider
from tests.crypto.odd_provider import OddProvider
from tests.kms_servers import BaoServer

PLAINTEXT = b"walmart-client-secret-migrating"


class CountingKeyring(LocalKeyring):
    """A local keyring that counts how often the envelope really asks it to unwrap."""

    unwraps = 0

    async def unwrap(self, key_id: str, wrapped: bytes, *, context: Mapping[str, str]) -> bytes:
        self.unwraps += 1
        return await super().unwrap(key_id, wrapped, context=context)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counting(keks: dict[str, bytes]) -> CountingKeyring:
    return CountingKeyring([("k1", keks["k1"])])


@pytest.fixture
async def transit(bao_server: BaoServer) -> AsyncIterator[TransitProvider]:
    provider = TransitProvider(
        address=bao_server.address, token=bao_server.token, key_name="migration", timeout=2.0
    )
    await provider.ensure_key()
    yield provider
    await provider.aclose()


def _row(aad: AssociatedData, number: int) -> AssociatedData:
    return dataclasses.replace(aad, credential_id=f"cred-{number}")


async def test_migrate_local_keyring_to_transit(
    keyring: LocalKeyring, transit: TransitProvider, aad: AssociatedData
) -> None:
    before = Envelope(keyring)
    rows = [_row(aad, n) for n in range(3)]
    sealed = [await before.seal(PLAINTEXT + bytes([n]), aad=row) for n, row in enumerate(rows)]

    migrating = Envelope(transit, others=[keyring])
    assert migrating.active_kek == ("transit", "migration")
    assert repr(migrating) == (
        "Envelope(provider='transit', active_key_id='migration', others=('local',))"
    )
    moved = []
    for n, (value, row) in enumerate(zip(sealed, rows, strict=True)):
        assert await migrating.open(value, aad=row) == PLAINTEXT + bytes([n])
        moved.append(await migrating.rewrap(value, aad=row))
        assert Envelope.kek_of(moved[-1]) == ("transit", "migration")
        assert moved[-1].split("$")[4:] == value.split("$")[4:], "ciphertext changed"
        assert await migrating.rewrap(moved[-1], aad=row) is moved[-1]

    after = Envelope(transit)
    for n, (value, row) in enumerate(zip(moved, rows, strict=True)):
        assert await after.open(value, aad=row) == PLAINTEXT + bytes([n])
    with pytest.raises(SealedValueUnreadable):
        await after.open(sealed[0], aad=rows[0])


async def test_open_picks_the_provider_by_name_and_key_id(
    keks: dict[str, bytes], aad: AssociatedData
) -> None:
    old = LocalKeyring([("k1", keks["k1"])])
    older = LocalKeyring([("k2", keks["k2"])])
    sealed_old = await Envelope(old).seal(PLAINTEXT, aad=aad)
    sealed_older = await Envelope(older).seal(PLAINTEXT, aad=aad)
    envelope = Envelope(LocalKeyring([("k3", keks["k3"])]), others=[old, older])
    assert await envelope.open(sealed_old, aad=aad) == PLAINTEXT
    assert await envelope.open(sealed_older, aad=aad) == PLAINTEXT
    elsewhere = await Envelope(OddProvider(old, name="aws-kms")).seal(PLAINTEXT, aad=aad)
    with pytest.raises(SealedValueUnreadable):
        await envelope.open(elsewhere, aad=aad)


def test_every_provider_name_must_fit_the_format(keyring: LocalKeyring) -> None:
    with pytest.raises(ValueError, match="provider name"):
        Envelope(keyring, others=[OddProvider(keyring, name="Old KMS")])


async def test_cache_hits_skip_the_provider(counting: CountingKeyring, aad: AssociatedData) -> None:
    envelope = Envelope(counting)
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    for _ in range(3):
        assert await envelope.open(sealed, aad=aad) == PLAINTEXT
    assert (counting.unwraps, envelope.cached_deks()) == (1, 1)
    envelope.clear_dek_cache()
    assert envelope.cached_deks() == 0
    assert await envelope.open(sealed, aad=aad) == PLAINTEXT
    assert counting.unwraps == 2


async def test_cache_is_bounded_in_count_least_recently_used_first(
    counting: CountingKeyring, aad: AssociatedData
) -> None:
    envelope = Envelope(counting, dek_cache_size=2)
    a, b, c = [await envelope.seal(PLAINTEXT, aad=aad) for _ in range(3)]
    for value in (a, b, a, c):  # b is the least recently used when c arrives
        await envelope.open(value, aad=aad)
    assert (counting.unwraps, envelope.cached_deks()) == (3, 2)
    await envelope.open(a, aad=aad)
    assert counting.unwraps == 3
    await envelope.open(b, aad=aad)
    assert counting.unwraps == 4


async def test_cache_is_bounded_in_time_since_unwrap(
    counting: CountingKeyring, aad: AssociatedData
) -> None:
    clock = Clock()
    envelope = Envelope(counting, dek_cache_ttl=10.0, clock=clock)
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    await envelope.open(sealed, aad=aad)
    clock.now += 9.9
    await envelope.open(sealed, aad=aad)  # a hit does not extend the entry's life
    assert (counting.unwraps, envelope.cached_deks()) == (1, 1)
    clock.now += 0.1
    assert envelope.cached_deks() == 0
    await envelope.open(sealed, aad=aad)
    clock.now += 10.0
    await envelope.open(sealed, aad=aad)  # expired without being counted first
    assert counting.unwraps == 3


async def test_cache_size_zero_disables_it(counting: CountingKeyring, aad: AssociatedData) -> None:
    envelope = Envelope(counting, dek_cache_size=0)
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    for _ in range(3):
        await envelope.open(sealed, aad=aad)
    assert (counting.unwraps, envelope.cached_deks()) == (3, 0)


@pytest.mark.parametrize(("size", "ttl"), [(-1, 300.0), (10, -1.0), (10, float("nan"))])
def test_cache_limits_must_be_sensible(keyring: LocalKeyring, size: int, ttl: float) -> None:
    with pytest.raises(ValueError, match="dek_cache"):
        Envelope(keyring, dek_cache_size=size, dek_cache_ttl=ttl)


async def test_warm_cache_never_opens_or_rewraps_under_another_row(
    counting: CountingKeyring, keks: dict[str, bytes], aad: AssociatedData
) -> None:
    envelope = Envelope(LocalKeyring([("k2", keks["k2"])]), others=[counting])
    sealed = await Envelope(counting).seal(PLAINTEXT, aad=aad)
    assert await envelope.open(sealed, aad=aad) == PLAINTEXT
    assert envelope.cached_deks() == 1
    other = dataclasses.replace(aad, purpose="client_secret")
    with pytest.raises(SealedValueUnreadable):
        await envelope.open(sealed, aad=other)
    # The cached DEK skips the keyring's context check, so rewrap must check the value itself.
    with pytest.raises(SealedValueUnreadable):
        await envelope.rewrap(sealed, aad=other)
    assert counting.unwraps == 1
    fields = sealed.split("$")
    fields[5] = ("B" if fields[5][0] == "A" else "A") + fields[5][1:]
    with pytest.raises(SealedValueUnreadable):
        await envelope.open("$".join(fields), aad=aad)  # same wrapped DEK: a cache hit
