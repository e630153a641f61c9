"""What a sealed value is bound to: its row, as GCM associated data and as KMS context.

Kept apart from ``envelope`` so that KEK providers (keyring, AWS KMS, Transit) can encode
the encryption context exactly as the envelope does without importing the envelope itself.
Import these names from ``app.crypto`` or ``app.crypto.envelope``.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass


def encode_context(context: Mapping[str, str]) -> bytes:
    """Canonical bytes of an encryption context: the same mapping always gives the same bytes."""
    # JSON with sorted keys quotes and escapes every field, so no choice of values can make
    # two different contexts encode alike (unlike joining with a separator).
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class AssociatedData:
    """The row a sealed value belongs to; opening it under any other row fails."""

    credential_id: str
    version: int
    account_id: str
    market: str
    environment: str
    purpose: str

    def context(self) -> dict[str, str]:
        """All fields as strings: the encryption context handed to the KEK provider."""
        return {
            "credential_id": self.credential_id,
            "version": str(self.version),
            "account_id": self.account_id,
            "market": self.market,
            "environment": self.environment,
            "purpose": self.purpose,
        }

    def encode(self) -> bytes:
        """Canonical, unambiguous bytes of the context, used as GCM associated data."""
        return encode_context(self.context())
