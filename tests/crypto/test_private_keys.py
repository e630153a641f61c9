"""Accepting sellers' RSA keys in the three shapes they arrive in."""

import base64
import hashlib
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.crypto import (
    InvalidPrivateKey,
    load_sealed_pkcs8,
    parse_private_key,
    public_key_fingerprint,
)
from tests.crypto.leaks import secret_fragments

Der = serialization.Encoding.DER
Pem = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8
PKCS1 = serialization.PrivateFormat.TraditionalOpenSSL
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PLAIN = serialization.NoEncryption()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seller_center(key: rsa.RSAPrivateKey) -> str:
    return _b64(key.private_bytes(Der, PKCS8, PLAIN))


FORMATS: dict[str, Callable[[rsa.RSAPrivateKey], str]] = {
    "seller-center one line": seller_center,
    "seller-center with whitespace": lambda k: f"\n\t  {seller_center(k)}  \r\n",
    "seller-center wrapped at 64": lambda k: "\n".join(textwrap.wrap(seller_center(k), 64)),
    "seller-center with spaces": lambda k: " ".join(textwrap.wrap(seller_center(k), 16)),
    "seller-center unpadded url-safe": lambda k: (
        seller_center(k).rstrip("=").replace("+", "-").replace("/", "_")
    ),
    "pem pkcs8": lambda k: k.private_bytes(Pem, PKCS8, PLAIN).decode(),
    "pem pkcs1": lambda k: k.private_bytes(Pem, PKCS1, PLAIN).decode(),
    "pem pkcs1 crlf and indented": lambda k: (
        "  " + k.private_bytes(Pem, PKCS1, PLAIN).decode().replace("\n", "\r\n")
    ),
    "pkcs1 der as base64": lambda k: _b64(k.private_bytes(Der, PKCS1, PLAIN)),
}


@pytest.mark.parametrize("bits", [1024, 2048])
@pytest.mark.parametrize("shape", list(FORMATS))
def test_each_accepted_format_gives_the_same_normalised_key(
    rsa_keys: dict[int, rsa.RSAPrivateKey], bits: int, shape: str
) -> None:
    key = rsa_keys[bits]
    parsed = parse_private_key(FORMATS[shape](key))
    assert parsed.bits == bits
    assert parsed.pkcs8_der == key.private_bytes(Der, PKCS8, PLAIN)
    assert parsed.key.private_numbers() == key.private_numbers()
    assert parsed.fingerprint == public_key_fingerprint(key.public_key())
    assert load_sealed_pkcs8(parsed.pkcs8_der).private_numbers() == key.private_numbers()


def test_published_vector_key_is_accepted(signature_vectors: dict[str, Any]) -> None:
    parsed = parse_private_key(signature_vectors["private_key_pkcs8_der_base64"])
    assert parsed.bits == signature_vectors["key_bits"] == 1024


def test_fingerprint_is_sha256_of_the_spki_der(rsa_keys: dict[int, rsa.RSAPrivateKey]) -> None:
    public = rsa_keys[2048].public_key()
    expected = hashlib.sha256(public.public_bytes(Der, SPKI)).hexdigest()
    assert public_key_fingerprint(public) == expected
    assert len(expected) == 64
    assert expected == expected.lower()


def test_small_rsa_still_named_when_loading_itself_refuses(
    monkeypatch: pytest.MonkeyPatch, rsa_512_pem: bytes
) -> None:
    # Some cryptography versions refuse sub-1024-bit keys at load time with a generic error;
    # the modulus size is then read from the DER itself.
    small = serialization.load_pem_private_key(rsa_512_pem, password=None)
    assert isinstance(small, rsa.RSAPrivateKey)

    def refuse(data: bytes, password: bytes | None) -> None:
        raise ValueError("Could not deserialize key data")

    monkeypatch.setattr(serialization, "load_der_private_key", refuse)
    with pytest.raises(InvalidPrivateKey, match="RSA key is 512 bits"):
        parse_private_key(_b64(small.private_bytes(Der, PKCS8, PLAIN)))


def test_load_sealed_pkcs8_refuses_what_is_not_an_rsa_pkcs8_key() -> None:
    with pytest.raises(InvalidPrivateKey, match="not a PKCS#8 private key"):
        load_sealed_pkcs8(b"\x30\x03\x02\x01\x00")
    ec_der = ec.generate_private_key(ec.SECP256R1()).private_bytes(Der, PKCS8, PLAIN)
    with pytest.raises(InvalidPrivateKey, match="not an RSA private key"):
        load_sealed_pkcs8(ec_der)


def test_parsed_key_repr_shows_only_size_and_fingerprint(
    rsa_keys: dict[int, rsa.RSAPrivateKey],
) -> None:
    text = seller_center(rsa_keys[1024])
    parsed = parse_private_key(text)
    shown = repr(parsed) + str(parsed)
    assert shown.count(parsed.fingerprint) == 2
    assert "bits=1024" in shown
    for fragment in secret_fragments(text):
        assert fragment not in shown
    numbers = rsa_keys[1024].private_numbers()
    for secret in (numbers.d, numbers.p, numbers.q):
        assert str(secret) not in shown
        assert format(secret, "x") not in shown
