"""A credential row as the key store and the token broker take it."""

from __future__ import annotations

import time

from app.credentials.models import Credential
from app.credentials.repository.snapshots import COLUMNS
from app.keys.snapshot import ROW_FIELDS, CredentialSnapshot, SnapshotRow


def snapshot_of(credential: Credential, sealed_secret: str | None) -> CredentialSnapshot:
    """The credential as read in this transaction, with its current version's sealed
    secret when the caller has it (``None``: only tokens will be sealed or opened)."""
    # Its own columns, as the hot path's read selects them; of the values that read finds
    # beside the credential, only the secret is known here.
    beside = {"token_fetched_at": None, "sealed_secret": sealed_secret}
    row = SnapshotRow(
        beside[name] if name in beside else getattr(credential, column.key)
        for name, column in zip(ROW_FIELDS, COLUMNS, strict=True)
    )
    return CredentialSnapshot.from_row(row, loaded_at=time.monotonic())
