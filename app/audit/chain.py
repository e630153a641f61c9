"""The hash of an audit event: SHA-256 over its predecessor's hash and its canonical content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
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


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    canonical = json.dumps(content_of(fields), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()
