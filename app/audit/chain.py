"""The hash of an audit event: SHA-256 over its predecessor's hash and its canonical content.

Only the last step depends on the predecessor. ``prepare`` does the rest (the canonical JSON
and its row for PostgreSQL) when the event happens, so appending a batch only links hashes:
computing canonical forms for a batch at flush time held a worker's event loop, and every
request in flight waited that long (it showed in the tail latency).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from app.audit.models import AuditEvent

FIELDS = (
    "at",
    "action",
    "client_id",
    "account_id",
    "credential_id",
    "version",
    "outcome",
    "request_id",
    "details",
)


def fields_of(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in FIELDS}


def content_of(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the fields a reader sees, in a form that survives a database round trip."""
    return {
        "at": fields["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": fields["action"],
        "client_id": str(fields["client_id"]) if fields["client_id"] else None,
        "account_id": fields["account_id"],
        "credential_id": str(fields["credential_id"]) if fields["credential_id"] else None,
        "version": fields["version"],
        "outcome": fields["outcome"],
        "request_id": fields["request_id"],
        "details": fields["details"],
    }


def canonical(fields: Mapping[str, Any]) -> str:
    """The event's content exactly as its hash covers it."""
    return json.dumps(content_of(fields), sort_keys=True, separators=(",", ":"), default=str)


def link_hash(prev_hash: str, canonical_content: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_content}".encode()).hexdigest()


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return link_hash(prev_hash, canonical(fields))


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """An event's ``FIELDS`` with what its append needs, but for the predecessor's hash."""

    fields: dict[str, Any]
    canonical: str
    row: tuple[Any, ...]  # FIELDS' values in order, details as JSON text (PostgreSQL's insert)


def prepare(fields: dict[str, Any]) -> PreparedEvent:
    details = json.dumps(fields["details"])
    if "\\u0000" in details:
        # PostgreSQL's jsonb refuses NUL, and a batch holding one would never be written:
        # details may quote what Walmart answered. (Rare: one substring search otherwise.)
        fields = fields | {"details": _without_nul(fields["details"])}
        details = json.dumps(fields["details"])
    row = tuple(details if f == "details" else fields[f] for f in FIELDS)
    return PreparedEvent(fields, canonical(fields), row)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value
