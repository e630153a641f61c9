"""Turning a submitted ``auth`` block into what gets sealed (``app.keys.binding`` seals it).

Validation happens before anything touches the database, so a bad key stores nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from app.credentials.schemas import OAuthAuth, SignatureAuth
from app.crypto import InvalidPrivateKey
from app.crypto.key_worker import parse_private_key_in_worker
from app.errors import InvalidPrivateKeyError, InvalidRequest, SchemeNotAvailable
from app.walmart.markets import MARKETS, channel_type_required


@dataclass(frozen=True, slots=True, repr=False)
class PreparedSecret:
    kind: str
    public_id: str
    channel_type: str | None
    plaintext: bytes
    fingerprint: str

    def __repr__(self) -> str:
        return f"PreparedSecret(kind={self.kind}, fingerprint={self.fingerprint})"


async def prepare_secret(
    auth: OAuthAuth | SignatureAuth, *, market: str, environment: str
) -> PreparedSecret:
    """Validate an auth block for a market and environment, and normalise its secret (keys
    become PKCS#8 DER). A private key is checked in a worker process: up to 0.6 s of CPU for a
    4,096-bit key."""
    if channel_type_required(market, auth.kind) and not auth.channel_type:
        raise InvalidRequest(
            f"Walmart requires WM_CONSUMER.CHANNEL.TYPE on {market} calls: give "
            "auth.channel_type (the channel type UUID from Seller Center).",
            details={"field": "auth.channel_type", "market": market},
        )
    if isinstance(auth, SignatureAuth):
        if environment not in MARKETS[market].signature_environments:
            where = f"{market} {environment}" if MARKETS[market].signature_environments else market
            raise SchemeNotAvailable(
                f"Walmart's {where} marketplace does not accept Consumer ID + Private Key "
                "signatures; register its OAuth Client ID and Client Secret instead "
                '(auth.kind = "oauth").',
                details={"market": market, "environment": environment, "use_kind": "oauth"},
            )
        try:
            parsed = await parse_private_key_in_worker(auth.private_key.get_secret_value())
        except InvalidPrivateKey as exc:
            raise InvalidPrivateKeyError(str(exc), details={"field": "auth.private_key"}) from None
        return PreparedSecret(
            kind="signature",
            public_id=auth.consumer_id,
            channel_type=auth.channel_type,
            plaintext=parsed.pkcs8_der,
            fingerprint=parsed.fingerprint,
        )
    secret = auth.client_secret.get_secret_value().encode()
    return PreparedSecret(
        kind="oauth",
        public_id=auth.client_id,
        channel_type=auth.channel_type,
        plaintext=secret,
        fingerprint=_oauth_fingerprint(auth.client_id, secret),
    )


def _oauth_fingerprint(client_id: str, secret: bytes) -> str:
    # Tells versions apart without revealing anything usable: a domain-separated digest of
    # a high-entropy secret.
    digest = hashlib.sha256(b"mports-vault/oauth-fingerprint/v1\0")
    digest.update(client_id.encode() + b"\0" + secret)
    return digest.hexdigest()
