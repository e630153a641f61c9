"""Refusing what is not a usable RSA private key, with a message that says what it is."""

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID

from app.crypto import InvalidPrivateKey, parse_private_key
from tests.crypto.leaks import secret_fragments

Der = serialization.Encoding.DER
Pem = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8
PKCS1 = serialization.PrivateFormat.TraditionalOpenSSL
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PLAIN = serialization.NoEncryption()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "seller.example")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def _unknown_algorithm_pkcs8() -> bytes:
    # PrivateKeyInfo { 0, AlgorithmIdentifier { 1.2.3.4 }, OCTET STRING { NULL } }
    body = bytes.fromhex("020100") + bytes.fromhex("300506032a0304") + bytes.fromhex("04020500")
    return bytes([0x30, len(body)]) + body


def _one_char_too_many(text: str) -> str:
    # No base64 string has a length of 4n + 1 once the padding is gone.
    text = text.rstrip("=")
    return text + "A" * ((1 - len(text)) % 4)


def refused_inputs(key: rsa.RSAPrivateKey, small_pem: bytes) -> dict[str, tuple[str, str]]:
    """name -> (pasted text, part of the message the operator must see)."""
    der = key.private_bytes(Der, PKCS8, PLAIN)
    small = serialization.load_pem_private_key(small_pem, password=None)
    assert isinstance(small, rsa.RSAPrivateKey)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    password = serialization.BestAvailableEncryption(b"hunter2")
    cert = _certificate(key)
    public = key.public_key()
    passphrase = "exported without a passphrase"
    return {
        "empty": ("", "private key is empty"),
        "blank": (" \n\t\r\n ", "private key is empty"),
        "too large": ("A" * 16385, "larger than 16 KB"),
        "too large blank": (" " * 20000, "larger than 16 KB"),
        "not base64": ("this is my key: " + _b64(der), "not valid base64"),
        "impossible base64 length": (_one_char_too_many(_b64(der)), "not valid base64"),
        "base64 of text": (_b64(b"consumer-id and the private key"), "not a DER private key"),
        "truncated der": (_b64(der[:300]), f"should be {len(der)} bytes but only 300"),
        "der with trailing junk": (_b64(der + b"\x00" * 8), "not a DER private key"),
        "ec pkcs8 base64": (_b64(ec_key.private_bytes(Der, PKCS8, PLAIN)), "EC (elliptic"),
        "ec pkcs8 pem": (ec_key.private_bytes(Pem, PKCS8, PLAIN).decode(), "EC (elliptic"),
        "ec sec1 pem": (ec_key.private_bytes(Pem, PKCS1, PLAIN).decode(), "EC (elliptic"),
        "ed25519": (
            ed25519.Ed25519PrivateKey.generate().private_bytes(Pem, PKCS8, PLAIN).decode(),
            "this key is Ed25519, not RSA",
        ),
        "ed448": (
            _b64(ed448.Ed448PrivateKey.generate().private_bytes(Der, PKCS8, PLAIN)),
            "this key is Ed448, not RSA",
        ),
        "x25519": (
            _b64(x25519.X25519PrivateKey.generate().private_bytes(Der, PKCS8, PLAIN)),
            "this key is X25519, not RSA",
        ),
        "unknown algorithm": (_b64(_unknown_algorithm_pkcs8()), "type the vault cannot use"),
        "rsa 512 pem": (small_pem.decode(), "RSA key is 512 bits; Walmart keys are at least 1024"),
        "rsa 512 base64": (
            _b64(small.private_bytes(Der, PKCS8, PLAIN)),
            "RSA key is 512 bits",
        ),
        "encrypted pkcs8 pem": (key.private_bytes(Pem, PKCS8, password).decode(), passphrase),
        "encrypted pkcs1 pem": (key.private_bytes(Pem, PKCS1, password).decode(), passphrase),
        "encrypted pkcs8 base64": (_b64(key.private_bytes(Der, PKCS8, password)), passphrase),
        "public pem": (public.public_bytes(Pem, SPKI).decode(), "this is a public key"),
        "rsa public pem": (
            public.public_bytes(Pem, serialization.PublicFormat.PKCS1).decode(),
            "this is a public key",
        ),
        "public spki base64": (_b64(public.public_bytes(Der, SPKI)), "this is a public key"),
        "certificate pem": (cert.public_bytes(Pem).decode(), "this is a certificate"),
        "certificate base64": (_b64(cert.public_bytes(Der)), "this is a certificate"),
        "openssh": (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n"
            "-----END OPENSSH PRIVATE KEY-----\n",
            "PEM type 'OPENSSH PRIVATE KEY' is not supported",
        ),
        "lower-case pem header": (
            "-----BEGIN private key-----\n" + _b64(der) + "\n-----END private key-----",
            "PEM header is malformed",
        ),
        "damaged pem body": (
            "-----BEGIN PRIVATE KEY-----\n" + _b64(der)[:400] + "\n-----END PRIVATE KEY-----\n",
            "PRIVATE KEY PEM block is damaged or truncated",
        ),
        "pem without end": (
            "-----BEGIN RSA PRIVATE KEY-----\n" + _b64(der),
            "damaged or truncated",
        ),
        "pem of unknown algorithm": (
            "-----BEGIN PRIVATE KEY-----\n"
            + _b64(_unknown_algorithm_pkcs8())
            + "\n-----END PRIVATE KEY-----\n",
            "damaged or truncated",
        ),
    }


REFUSED_NAMES = [
    "empty",
    "blank",
    "too large",
    "too large blank",
    "not base64",
    "impossible base64 length",
    "base64 of text",
    "truncated der",
    "der with trailing junk",
    "ec pkcs8 base64",
    "ec pkcs8 pem",
    "ec sec1 pem",
    "ed25519",
    "ed448",
    "x25519",
    "unknown algorithm",
    "rsa 512 pem",
    "rsa 512 base64",
    "encrypted pkcs8 pem",
    "encrypted pkcs1 pem",
    "encrypted pkcs8 base64",
    "public pem",
    "rsa public pem",
    "public spki base64",
    "certificate pem",
    "certificate base64",
    "openssh",
    "lower-case pem header",
    "damaged pem body",
    "pem without end",
    "pem of unknown algorithm",
]


@pytest.mark.parametrize("name", REFUSED_NAMES)
def test_refused_with_a_message_that_says_why_and_echoes_nothing(
    rsa_keys: dict[int, rsa.RSAPrivateKey], rsa_512_pem: bytes, name: str
) -> None:
    text, expected = refused_inputs(rsa_keys[1024], rsa_512_pem)[name]
    with pytest.raises(InvalidPrivateKey) as caught:
        parse_private_key(text)
    message = str(caught.value)
    assert expected in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ or caught.value.__context__ is None
    for fragment in secret_fragments(text):
        assert fragment not in message
        assert fragment not in repr(caught.value)


def test_refused_inputs_cover_every_case(
    rsa_keys: dict[int, rsa.RSAPrivateKey], rsa_512_pem: bytes
) -> None:
    assert sorted(refused_inputs(rsa_keys[1024], rsa_512_pem)) == sorted(REFUSED_NAMES)
