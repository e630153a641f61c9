"""The one exception of the SDK: the vault refused to sign, or answered something unreadable.

Walmart's own refusals are not exceptions: they come back as ordinary responses (after the
one retry an expired token earns), exactly as they would without this auth. Connection
failures to the vault stay ``httpx.TransportError``; their ``request.url`` names the vault.
"""

from __future__ import annotations

from functools import partial
from typing import Any


class VaultError(Exception):
    """The vault's ``{"error": {"code", "message", "details"}}`` answer, as an exception.

    ``code`` is the vault's machine-readable code (``unauthenticated``, ``forbidden``,
    ``not_found``, ``credential_disabled``, ``walmart_rejected_credentials``, ...), or
    ``unexpected_response`` when the answer did not have the vault's shape. Built only from
    the vault's answer, never from the request, so it cannot carry the vault token.
    """

    def __init__(
        self,
        *,
        status_code: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{message} ({code}, HTTP {status_code})")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}

    def __repr__(self) -> str:
        return (
            f"VaultError(status_code={self.status_code}, code={self.code!r}, "
            f"message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # Keyword-only arguments: the default (cls, self.args) would not rebuild it.
        rebuild = partial(
            type(self),
            status_code=self.status_code,
            code=self.code,
            message=self.message,
            details=self.details,
        )
        return rebuild, ()
