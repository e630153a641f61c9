"""A credential row as the key store and the token broker take it."""

from __future__ import annotations

import time

from app.credentials.models import Credential
from app.db import utcnow
from app.keys.snapshot import CredentialSnapshot


def snapshot_of(credential: Credential, sealed_secret: str | None) -> CredentialSnapshot:
    """The credential as read in this transaction, with its current version's sealed
    secret when the caller has it (``None``: only tokens will be sealed or opened)."""
    return CredentialSnapshot(
        id=credential.id,
        account_id=credential.account_id,
        market=credential.market,
        environment=credential.environment,
        kind=credential.kind,
        public_id=credential.public_id,
        channel_type=credential.channel_type,
        version=credential.current_version,
        status=credential.status,
        token_fetched_at=None,
        loaded_wall=utcnow(),
        loaded_at=time.monotonic(),
        sealed_secret=sealed_secret,
    )
