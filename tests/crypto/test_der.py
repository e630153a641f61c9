"""The DER reader behind refusal messages: right on real keys, None on anything odd."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.crypto import _der

Der = serialization.Encoding.DER
PLAIN = serialization.NoEncryption()


@pytest.mark.parametrize("bits", [1024, 2048])
def test_modulus_size_of_pkcs8_and_pkcs1(rsa_keys: dict[int, rsa.RSAPrivateKey], bits: int) -> None:
    key = rsa_keys[bits]
    for form in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        der = key.private_bytes(Der, form, PLAIN)
        assert _der.rsa_modulus_bits(der) == bits
        assert _der.declared_length(der) == len(der)
        assert _der.declared_length(der[:100]) == len(der)


def test_modulus_size_of_a_512_bit_key(rsa_512_pem: bytes) -> None:
    key = serialization.load_pem_private_key(rsa_512_pem, password=None)
    der = key.private_bytes(Der, serialization.PrivateFormat.PKCS8, PLAIN)
    assert _der.rsa_modulus_bits(der) == 512


def test_not_rsa_gives_none() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(Der, serialization.PrivateFormat.PKCS8, PLAIN)
    assert _der.rsa_modulus_bits(der) is None


RSA_ALGORITHM = "300d06092a864886f70d0101010500"


@pytest.mark.parametrize(
    "hex_der",
    [
        "",  # no header at all
        "30",  # header cut after the tag
        "3080",  # indefinite length, not DER
        "308500000000",  # five length bytes
        "308201",  # length bytes missing
        "020100",  # not a SEQUENCE
        "3000",  # no version
        "3003040100",  # version is not an INTEGER
        "3012020100" + RSA_ALGORITHM,  # PKCS#8 cut before the key
        "3015020100" + RSA_ALGORITHM + "0500",  # key is not in an OCTET STRING
        "3006020100020500",  # PKCS#1 cut inside the modulus
        "3006020100040100",  # PKCS#1 with something else where the modulus goes
    ],
)
def test_odd_bytes_give_none(hex_der: str) -> None:
    assert _der.rsa_modulus_bits(bytes.fromhex(hex_der)) is None


def test_declared_length_only_of_a_sequence() -> None:
    assert _der.declared_length(b"") is None
    assert _der.declared_length(bytes.fromhex("0405")) is None
    assert _der.declared_length(bytes.fromhex("308201f4")) == 4 + 500
