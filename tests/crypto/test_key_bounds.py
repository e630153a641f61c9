"""RSA keys outside 1,024-4,096 bits or with a public exponent over 2^32 are refused from
their bytes, saying why, before ``cryptography`` spends seconds validating them."""

from __future__ import annotations

import time

import pytest

from app.crypto import InvalidPrivateKey, parse_private_key
from app.crypto.key_bounds import MAX_KEY_DER_BYTES
from tests.factories import rsa_key
from tests.hostile_keys import (
    key_with_exponent,
    odd,
    pem,
    pkcs1_of,
    pkcs8,
    private_der,
    seller_center,
    shaped_pkcs1,
)

# Refusing from the DER headers takes microseconds; validating an 8,192-bit key takes seconds.
# The budget sits between the two, far enough from both that a loaded machine cannot cross it.
REFUSAL_BUDGET_SECONDS = 0.5


def _refused(text: str) -> str:
    started = time.perf_counter()
    with pytest.raises(InvalidPrivateKey) as caught:
        parse_private_key(text)
    assert time.perf_counter() - started < REFUSAL_BUDGET_SECONDS
    return str(caught.value)


@pytest.mark.parametrize("bits", [4104, 8192, 16384])
def test_modulus_over_4096_bits_refused_in_every_format(bits: int) -> None:
    pkcs1 = shaped_pkcs1(bits)
    for text in (
        seller_center(pkcs8(pkcs1)),
        pem(pkcs8(pkcs1), "PRIVATE KEY"),
        pem(pkcs1, "RSA PRIVATE KEY"),
    ):
        message = _refused(text)
        assert f"RSA key is {bits} bits; the vault accepts 1024 to 4096 bits" in message


def test_huge_public_exponent_refused() -> None:
    # A real, valid 2,048-bit key with a 2,040-bit exponent: accepted once, and 8x slower to use.
    key = key_with_exponent(2**2039 + 1)
    message = _refused(seller_center(private_der(key)))
    assert "RSA public exponent is 2040 bits; the vault accepts at most 2^32" in message


def test_exponent_just_over_2_pow_32_refused_and_just_under_accepted() -> None:
    over = key_with_exponent(2**32 + 1)
    assert over.public_key().public_numbers().e > 2**32
    assert "public exponent is 33 bits" in _refused(seller_center(private_der(over)))
    under = key_with_exponent(2**32 - 1, step=-2)
    assert under.public_key().public_numbers().e < 2**32
    assert parse_private_key(seller_center(private_der(under))).bits == 2048


def test_unbalanced_primes_refused() -> None:
    # A small modulus with a prime as large as a 4,096-bit key's modulus would make OpenSSL's
    # primality check of that prime cost seconds.
    message = _refused(seller_center(pkcs8(shaped_pkcs1(2048, prime_bits=4000))))
    assert "4000-bit prime for a 2048-bit modulus" in message


def test_value_larger_than_the_modulus_refused() -> None:
    # A private exponent wider than n: no RSA key is like that, and OpenSSL would work on it.
    values = [0, odd(2048), 65537, odd(3000), odd(1024), odd(1024), odd(1023), odd(1023), 1]
    assert "larger than its modulus" in _refused(seller_center(pkcs8(pkcs1_of(values))))


def test_oversized_der_that_is_no_readable_rsa_key_refused() -> None:
    # Not an RSA structure the size reader knows, but far too large to be a key within bounds.
    junk = b"\x30\x82\x20\x00" + bytes(8192)
    message = _refused(seller_center(junk))
    assert "more than an RSA key of 4096 bits" in message
    assert len(junk) > MAX_KEY_DER_BYTES


def test_oversized_pem_that_cannot_be_decoded_refused() -> None:
    body = ("*" * 64 + "\n") * 80
    text = f"-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n"
    assert "more than an RSA key of 4096 bits" in _refused(text)


@pytest.mark.parametrize("bits", [1024, 4096])
def test_keys_at_the_bounds_accepted(bits: int) -> None:
    parsed = parse_private_key(pem(private_der(rsa_key(bits)), "PRIVATE KEY"))
    assert parsed.bits == bits
