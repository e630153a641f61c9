"""The hash of an audit event: SHA-256 over its predecessor's hash and its canonical content."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from app.audit.models import AuditEvent


def content_of(event: AuditEvent) -> dict[str, Any]:
    """Exactly the fields a reader sees, in a form that survives a database round trip."""
    return {
        "at": event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": event.action,
        "client_id": str(event.client_id) if event.client_id else None,
        "account_id": event.account_id,
        "credential_id": str(event.credential_id) if event.credential_id else None,
        "version": event.version,
        "outcome": event.outcome,
        "request_id": event.request_id,
        "details": event.details,
    }


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    canonical = json.dumps(content_of(event), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()
