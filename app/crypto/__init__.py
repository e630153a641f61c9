"""Cryptography of the vault, kept free of web and database code.

``envelope`` seals secrets for storage, ``keyring`` is the local KEK provider,
``private_keys`` accepts sellers' RSA keys, ``signing`` makes Walmart's request signature
and ``tokens`` makes and hashes the bearer secrets shown once (API clients' tokens, intake
link tokens, connection states). Only the standard library
and ``cryptography`` are imported here, so this package can be reviewed and tested alone.
The remote KEK providers, ``aws_kms.AwsKmsProvider`` (boto3) and
``transit.TransitProvider`` (httpx), are imported from their modules by whoever configures
them, so a deployment on the local keyring never loads boto3.
"""

from app.crypto.envelope import (
    AssociatedData,
    Envelope,
    EnvelopeError,
    KekProvider,
    KekUnavailable,
    SealedValueUnreadable,
    UnknownSealFormat,
)
from app.crypto.keyring import KeyringConfigError, LocalKeyring
from app.crypto.private_keys import (
    InvalidPrivateKey,
    ParsedPrivateKey,
    load_sealed_pkcs8,
    parse_private_key,
    public_key_fingerprint,
)
from app.crypto.signing import canonical_string, sign_request, verify_request_signature
from app.crypto.tokens import TOKEN_PREFIX, hash_token, new_token

__all__ = [
    "TOKEN_PREFIX",
    "AssociatedData",
    "Envelope",
    "EnvelopeError",
    "InvalidPrivateKey",
    "KekProvider",
    "KekUnavailable",
    "KeyringConfigError",
    "LocalKeyring",
    "ParsedPrivateKey",
    "SealedValueUnreadable",
    "UnknownSealFormat",
    "canonical_string",
    "hash_token",
    "load_sealed_pkcs8",
    "new_token",
    "parse_private_key",
    "public_key_fingerprint",
    "sign_request",
    "verify_request_signature",
]
