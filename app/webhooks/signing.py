"""Signing secrets and signatures per Standard Webhooks, through the ``standardwebhooks``
package (the reference implementation receivers verify with).

A secret is ``whsec_`` + base64 of 32 random bytes. It is shown once, then kept sealed by
the envelope, bound to its endpoint and secret version like every other stored secret.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime

from standardwebhooks.webhooks import Webhook

from app.crypto import Envelope
from app.keys.binding import webhook_secret_binding
from app.keys.keystore import open_webhook_secret

SECRET_PREFIX = "whsec_"  # noqa: S105  (a format prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def seal(envelope: Envelope, secret: str, endpoint_id: uuid.UUID, version: int) -> str:
    return await envelope.seal(secret.encode(), aad=webhook_secret_binding(endpoint_id, version))


async def open_signer(
    envelope: Envelope, sealed: str, endpoint_id: uuid.UUID, version: int
) -> Webhook:
    return Webhook(
        await open_webhook_secret(envelope, sealed=sealed, endpoint_id=endpoint_id, version=version)
    )


def signature_header(signers: list[Webhook], msg_id: str, at: datetime, body: str) -> str:
    """``v1,<sig>`` per signer, space-separated: during a secret's grace period the receiver
    accepts the delivery with either its old or its new secret."""
    return " ".join(signer.sign(msg_id, at, body) for signer in signers)
