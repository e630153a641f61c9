"""A credential row as the key store and the token broker take it."""

from __future__ import annotations

import time
from typing import Any

from app.credentials.models import Credential
from app.credentials.repository.snapshots import COLUMNS
from app.keys.snapshot import ROW_FIELDS, CredentialSnapshot, SnapshotRow

# Of the values the hot path's read finds beside the credential's public half, none is known
# here but the secret, which the caller passes (the row's copy is a deferred column: reading it
# from a loaded credential would be a lazy load, which async sessions refuse).
_BESIDE = ("token_fetched_at", "sealed_secret")


def _credential_attribute(name: str, column: Any) -> str:
    """The credential's attribute behind a snapshot field: refused at import, not guessed, for
    a field the read takes from another table."""
    if column.class_ is not Credential:
        raise TypeError(f"snapshot field {name!r} is not read from credentials: map it here")
    return str(column.key)


_OWN = {
    name: _credential_attribute(name, column)
    for name, column in zip(ROW_FIELDS, COLUMNS, strict=True)
    if name not in _BESIDE
}


def snapshot_of(credential: Credential, sealed_secret: str | None) -> CredentialSnapshot:
    """The credential as read in this transaction, with its current version's sealed
    secret when the caller has it (``None``: only tokens will be sealed or opened)."""
    beside = {"token_fetched_at": None, "sealed_secret": sealed_secret}
    row = SnapshotRow(
        beside[name] if name in beside else getattr(credential, _OWN[name]) for name in ROW_FIELDS
    )
    return CredentialSnapshot.from_row(row, loaded_at=time.monotonic())
