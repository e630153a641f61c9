"""The hand-over form: its fields per kind of key, and what the seller reads when something
is wrong, in plain words next to the field it concerns (GOV.UK's error-message pattern).

The fields are named like the API's ``auth`` fields and checked by the API's own models
(``SignatureAuth``, ``OAuthAuth``), so the form accepts exactly what the API accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from app.credentials.schemas import OAuthAuth, SignatureAuth
from app.walmart.markets import channel_type_required


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    hint: str
    secret: bool = False
    multiline: bool = False
    required: bool = True


CONSUMER_ID = FieldSpec(
    "consumer_id",
    "Consumer ID",
    "On the API Credentials page in Seller Center. It looks like "
    "hw30cqp3-35fi-1bi0-3312-hw9fgm30d2p4.",
)
PRIVATE_KEY = FieldSpec(
    "private_key",
    "Private Key",
    "Paste it exactly as Seller Center's Copy button gives it: one long line of letters and "
    "numbers. A key that starts with -----BEGIN PRIVATE KEY----- works too.",
    secret=True,
    multiline=True,
)
CHANNEL_TYPE = FieldSpec(
    "channel_type",
    "Channel Type",
    "The value of the WM_CONSUMER.CHANNEL.TYPE header that Walmart gave you for your "
    "integration. It looks like 0f3e4dd4-0514-4346-b39d-af0e00ea066d.",
)
CLIENT_ID = FieldSpec(
    "client_id", "Client ID", "On the API Key Management page of Walmart's Developer Portal."
)
CLIENT_SECRET = FieldSpec(
    "client_secret",
    "Client Secret",
    "On the same page, next to the Client ID. Copy it with the page's copy button.",
    secret=True,
)


def fields_for(kind: str, market: str) -> tuple[FieldSpec, ...]:
    if kind == "signature":
        return (CONSUMER_ID, PRIVATE_KEY, CHANNEL_TYPE)
    optional = not channel_type_required(market, kind)
    channel = FieldSpec(
        CHANNEL_TYPE.name,
        CHANNEL_TYPE.label + (" (if Walmart gave you one)" if optional else ""),
        CHANNEL_TYPE.hint,
        required=not optional,
    )
    return (CLIENT_ID, CLIENT_SECRET, channel)


@dataclass
class FormErrors(Exception):
    """What is wrong with a submission, by field name (``""``: the submission as a whole)."""

    by_field: dict[str, str] = field(default_factory=dict)


def parse_auth(kind: str, market: str, form: Mapping[str, str]) -> OAuthAuth | SignatureAuth:
    """The API's ``auth`` block from the form, or ``FormErrors`` in plain words.

    Spaces around the identifiers are dropped (copying often adds them); secrets are passed on
    exactly as pasted, since the key parser already accepts folded lines and spaces.
    """
    specs = {spec.name: spec for spec in fields_for(kind, market)}
    values: dict[str, str | None] = {}
    for name, spec in specs.items():
        raw = form.get(name, "")
        value = raw if spec.secret else raw.strip()
        values[name] = value or None
    missing = {
        name: f"Enter your {spec.label.split(' (')[0]}"
        for name, spec in specs.items()
        if spec.required and values[name] is None
    }
    if missing:
        raise FormErrors(missing)
    given = {name: value for name, value in values.items() if value is not None}
    try:
        if kind == "signature":
            return SignatureAuth.model_validate({"kind": "signature", **given})
        return OAuthAuth.model_validate({"kind": "oauth", **given})
    except ValidationError as exc:
        raise FormErrors(_explain(exc, specs)) from None


def _explain(exc: ValidationError, specs: Mapping[str, FieldSpec]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        label = specs[name].label.split(" (")[0] if name in specs else "The form"
        if error["type"] == "string_too_long":
            limit = (error.get("ctx") or {}).get("max_length")
            problems.setdefault(name, f"{label} must be {limit} characters or fewer")
        elif name in specs and not specs[name].secret:
            problems.setdefault(name, f"{label} must have no spaces or line breaks")
        else:
            problems.setdefault(name, f"{label} cannot be read; paste it again")
    return problems


def sentence(message: str) -> str:
    """An API message as a sentence on the page."""
    text = message.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."
