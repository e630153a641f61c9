"""Errors of sealing and opening, shared by the envelope, its stored form and KEK providers.

They live apart from ``envelope`` only so that the stored-form parser and the providers can
raise them without importing the envelope itself; import them from ``app.crypto`` or
``app.crypto.envelope``. None of them ever carries plaintext, key bytes or ciphertext.
"""


class EnvelopeError(Exception):
    """Base of every error raised while sealing or opening a value."""


class SealedValueUnreadable(EnvelopeError):
    """The value is well formed but cannot be opened here (tampered, moved, wrong KEK)."""

    # One fixed message for every cause: saying which check failed only helps someone
    # probing the format, and the operator's next step is the same for all of them.
    def __init__(self) -> None:
        super().__init__("sealed value could not be opened")


class UnknownSealFormat(EnvelopeError):
    """The string is not a sealed value of a format version this code reads."""


class KekUnavailable(EnvelopeError):
    """A remote KEK provider could not be reached; retrying later may succeed."""
