"""Why a hand-over submission was refused, in the words the seller reads.

Each refusal names the field it concerns (``""``: the submission as a whole) and whether it
counts towards the link's stop after 5 failures: keys that the vault or Walmart refused count;
a form left incomplete, a Walmart outage, or a state the seller cannot change does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import (
    Conflict,
    CredentialTestFailed,
    InvalidPrivateKeyError,
    InvalidRequest,
    NotFound,
    VaultError,
)
from app.intake.form import sentence

SECRET_FIELD = {"signature": "private_key", "oauth": "client_secret"}
TRANSIENT_OUTCOMES = frozenset({"rate_limited", "walmart_unavailable", "timeout", "network_error"})


@dataclass
class Refusal(Exception):
    reason: str  # a code for the audit trail
    errors: dict[str, str]  # field name -> message
    counted: bool
    tries_left: int | None = field(default=None)  # set once the refusal is recorded


def busy_refusal() -> Refusal:
    """For a submission while another through the same link is still being checked."""
    message = (
        "Keys sent with this link are being checked with Walmart right now. Wait a "
        "minute, then open the link again: it will say whether they were accepted."
    )
    return Refusal("busy", {"": message}, counted=False)


def refusal_for(exc: VaultError, *, kind: str, contact: str) -> Refusal | None:
    """The refusal for an error of the register / rotate path (the API's own errors);
    ``None`` for an error that says nothing about the submission (an outage)."""
    if isinstance(exc, CredentialTestFailed):
        return _test_failed(str(exc.details.get("outcome")), kind)
    if isinstance(exc, InvalidPrivateKeyError):
        return Refusal(exc.code, {"private_key": sentence(exc.message)}, counted=True)
    if isinstance(exc, InvalidRequest):
        where = str(exc.details.get("field", "")).removeprefix("auth.")
        return Refusal(exc.code, {where: sentence(exc.message)}, counted=True)
    if isinstance(exc, Conflict):
        message = (
            "mPorts already has keys for this store, or someone is changing them right now, "
            f"so nothing was saved. Ask {contact} what to do next."
        )
        return Refusal(exc.code, {"": message}, counted=False)
    if isinstance(exc, NotFound):
        message = (
            "The keys this link was meant to replace are no longer in mPorts, so nothing was "
            f"saved. Ask {contact} for a new link."
        )
        return Refusal(exc.code, {"": message}, counted=False)
    return None


def _test_failed(outcome: str, kind: str) -> Refusal:
    reason = f"test_{outcome}"  # fits the audit outcome column
    if outcome in TRANSIENT_OUTCOMES:
        message = (
            "We could not reach Walmart to check your keys just now, so nothing was saved. "
            "Please try again in a few minutes."
        )
        return Refusal(reason, {"": message}, counted=False)
    if outcome == "forbidden":
        message = (
            "Walmart recognised these keys but refused access to its Marketplace API. Check "
            "the Channel Type, and that your Walmart account may use the API."
        )
        return Refusal(reason, {"channel_type": message}, counted=True)
    if kind == "signature":
        message = (
            "Walmart did not accept this Consumer ID and Private Key. Check that you copied "
            "the newest Private Key: pressing Regenerate Key deactivates the one before it."
        )
    else:
        message = (
            "Walmart did not accept this Client ID and Client Secret. Check that you copied "
            "both from the same row of API Key Management."
        )
    return Refusal(reason, {SECRET_FIELD[kind]: message}, counted=True)
