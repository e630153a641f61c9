"""Accepting a seller's Walmart private key, in whatever shape it was pasted.

Seller Center's Copy button gives base64 of a PKCS#8 DER key on one line, without PEM
armour; tools and other SDKs hand out PEM PKCS#8 or PEM PKCS#1. All three are accepted and
normalised to PKCS#8 DER, the one form the vault seals and later loads
(``load_sealed_pkcs8``).

A key outside the vault's size bounds (``key_bounds``) is refused from its bytes before
``cryptography`` validates it, which is the expensive part. Everything else is refused with an
``InvalidPrivateKey`` whose message tells the operator what they pasted instead (a public key,
a certificate, an EC key, a truncated copy, a key with a passphrase ...), because "could not
deserialize" leaves them guessing. The message never quotes the input: a half-right paste is
still mostly a secret.
"""

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from app.crypto import _der
from app.crypto.key_bounds import MIN_RSA_BITS, out_of_bounds, pem_out_of_bounds, too_small

MAX_INPUT_CHARS = 16384

_PEM_LABEL = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----")
_PRIVATE_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"})
_PUBLIC_LABELS = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})
_CERTIFICATE_LABELS = frozenset({"CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"})
_BASE64 = re.compile(r"[A-Za-z0-9+/]*")

_ENCRYPTED = (
    "private key is protected by a passphrase; it must be exported without a passphrase "
    "(unencrypted PKCS#8)"
)
_PUBLIC = "this is a public key; paste the private key that belongs to it"
_CERTIFICATE = "this is a certificate; paste the RSA private key instead"


class InvalidPrivateKey(ValueError):
    """The pasted text is not an RSA private key the vault can use; says why in words."""


@dataclass(frozen=True, repr=False)
class ParsedPrivateKey:
    """A loaded RSA key with its normalised PKCS#8 DER form and public-key fingerprint."""

    key: RSAPrivateKey
    pkcs8_der: bytes
    fingerprint: str
    bits: int

    def __repr__(self) -> str:
        return f"ParsedPrivateKey(bits={self.bits}, fingerprint={self.fingerprint!r})"


def public_key_fingerprint(public_key: RSAPublicKey) -> str:
    """Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def load_sealed_pkcs8(der: bytes) -> RSAPrivateKey:
    """Load the PKCS#8 DER that ``parse_private_key`` produced and the vault sealed."""
    try:
        # The key was fully checked by parse_private_key at registration, and AES-GCM has just
        # authenticated these bytes, so OpenSSL's costly RSA consistency check (milliseconds
        # for a 2048-bit key, on every cache miss of the hot path) adds nothing here.
        key = serialization.load_der_private_key(
            der, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidPrivateKey("sealed key material is not a PKCS#8 private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise InvalidPrivateKey("sealed key material is not an RSA private key")
    return key


def screen_private_key(text: str) -> None:
    """The cheap part of ``parse_private_key``: what it refuses from the text itself and from
    the sizes in the key's bytes (``key_bounds``), in microseconds, without loading the key."""
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidPrivateKey(
            f"private key is larger than 16 KB ({MAX_INPUT_CHARS} characters); "
            "a Walmart private key is about 1 KB"
        )
    if not text.strip():
        raise InvalidPrivateKey("private key is empty")
    if "-----BEGIN" in text:
        _pem_label(text)
        refusal = pem_out_of_bounds(text)
    else:
        refusal = out_of_bounds(_decode_base64(text))
    if refusal is not None:
        raise InvalidPrivateKey(refusal)


def parse_private_key(text: str) -> ParsedPrivateKey:
    """Accept Seller Center base64 DER, PEM PKCS#8 or PEM PKCS#1; refuse anything else.
    Validating the key costs up to about 0.6 s of CPU holding the GIL (4,096 bits): a server
    calls ``key_worker.parse_private_key_in_worker`` instead."""
    screen_private_key(text)
    key = _load_pem(text) if "-----BEGIN" in text else _load_der(_decode_base64(text))
    rsa_key = _require_rsa(key)
    pkcs8 = rsa_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fingerprint = public_key_fingerprint(rsa_key.public_key())
    return ParsedPrivateKey(rsa_key, pkcs8, fingerprint, rsa_key.key_size)


def _decode_base64(text: str) -> bytes:
    # Copy-paste folds lines and adds spaces; some tools use the URL-safe alphabet.
    compact = "".join(text.split()).translate(str.maketrans("-_", "+/")).rstrip("=")
    if not _BASE64.fullmatch(compact) or len(compact) % 4 == 1:
        raise InvalidPrivateKey(
            "private key is not valid base64; paste the one-line value from Seller Center's "
            "Copy button, or a PEM block starting with -----BEGIN PRIVATE KEY-----"
        )
    return base64.b64decode(compact + "=" * (-len(compact) % 4))


def _pem_label(text: str) -> str:
    """The PEM block's label, when it is one of a private key that is not encrypted."""
    match = _PEM_LABEL.search(text)
    if match is None:
        raise InvalidPrivateKey(
            "the PEM header is malformed; it should read -----BEGIN PRIVATE KEY-----"
        )
    label = match.group(1)
    if label == "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED" in text:
        raise InvalidPrivateKey(_ENCRYPTED)
    if label in _PUBLIC_LABELS:
        raise InvalidPrivateKey(_PUBLIC)
    if label in _CERTIFICATE_LABELS:
        raise InvalidPrivateKey(_CERTIFICATE)
    if label not in _PRIVATE_LABELS:
        raise InvalidPrivateKey(
            f"PEM type {label!r} is not supported; paste a 'PRIVATE KEY' or "
            "'RSA PRIVATE KEY' block, or the one-line value from Seller Center"
        )
    return label


def _load_pem(text: str) -> PrivateKeyTypes:
    label = _pem_label(text)
    try:
        return serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidPrivateKey(
            f"the {label} PEM block is damaged or truncated; copy the whole block, "
            "from -----BEGIN to -----END"
        ) from None


def _load_der(der: bytes) -> PrivateKeyTypes:
    try:
        return serialization.load_der_private_key(der, password=None)
    except TypeError:
        # cryptography raises TypeError exactly when a password would have been needed.
        raise InvalidPrivateKey(_ENCRYPTED) from None
    except UnsupportedAlgorithm:
        raise InvalidPrivateKey("this key is of a type the vault cannot use; need RSA") from None
    except ValueError:
        raise InvalidPrivateKey(_explain_bad_der(der)) from None


def _explain_bad_der(der: bytes) -> str:
    """Words for DER that ``cryptography`` would not load as a private key."""
    try:
        serialization.load_der_public_key(der)
        return _PUBLIC
    except (ValueError, UnsupportedAlgorithm):
        pass
    try:
        x509.load_der_x509_certificate(der)
        return _CERTIFICATE
    except ValueError:
        pass
    declared = _der.declared_length(der)
    if declared is not None and declared > len(der):
        return (
            f"private key is truncated: it should be {declared} bytes but only {len(der)} "
            "are there; copy the whole value"
        )
    return "private key is base64, but what it decodes to is not a DER private key"


def _require_rsa(key: PrivateKeyTypes) -> RSAPrivateKey:
    if isinstance(key, RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidPrivateKey(too_small(key.key_size))
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        kind = "EC (elliptic curve)"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        kind = "Ed25519"
    elif isinstance(key, ed448.Ed448PrivateKey):
        kind = "Ed448"
    else:
        kind = type(key).__name__.removesuffix("PrivateKey")
    raise InvalidPrivateKey(
        f"this key is {kind}, not RSA; Walmart signatures need an RSA private key"
    )
