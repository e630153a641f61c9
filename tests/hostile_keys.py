"""RSA keys outside the vault's bounds, made in milliseconds.

A real 16,384-bit key takes minutes to generate. The vault refuses such keys from the sizes in
their DER before any parsing, so a key with the right shape and sizes (random odd integers in
the places of n, d, p, q ...) is what the refusal sees, and it is made at once. The key with a
huge public exponent is a real, valid one: built from the primes of a normal key.
"""

from __future__ import annotations

import base64
import math
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.factories import rsa_key

_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def odd(bits: int) -> int:
    """A random odd integer of exactly ``bits`` bits."""
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


def pkcs8(pkcs1: bytes) -> bytes:
    return _tlv(0x30, _integer(0) + _RSA_ALGORITHM + _tlv(0x04, pkcs1))


def shaped_pkcs1(modulus_bits: int, *, exponent: int = 65537, prime_bits: int = 0) -> bytes:
    """PKCS#1 DER of the shape of an RSA key with these sizes (not a working key)."""
    half = prime_bits or modulus_bits // 2
    values = [
        0,
        odd(modulus_bits),
        exponent,
        odd(modulus_bits - 1),
        odd(half),
        odd(half),
        odd(half - 1),
        odd(half - 1),
        odd(half - 1),
    ]
    return pkcs1_of(values)


def pkcs1_of(values: list[int]) -> bytes:
    """An RSAPrivateKey SEQUENCE of these integers (version, n, e, d, p, q, dp, dq, qinv)."""
    return _tlv(0x30, b"".join(_integer(v) for v in values))


def seller_center(der: bytes) -> str:
    return base64.b64encode(der).decode()


def pem(der: bytes, label: str) -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n"


def key_with_exponent(exponent: int, bits: int = 2048, step: int = 2) -> rsa.RSAPrivateKey:
    """A valid RSA key whose public exponent is the first usable one from ``exponent`` on,
    by ``step`` (odd and coprime to lambda(n))."""
    numbers = rsa_key(bits).private_numbers()
    p, q = numbers.p, numbers.q
    lam = math.lcm(p - 1, q - 1)
    while math.gcd(exponent, lam) != 1:
        exponent += step
    d = pow(exponent, -1, lam)
    public = rsa.RSAPublicNumbers(exponent, p * q)
    private = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), public
    )
    return private.private_key()


def private_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
