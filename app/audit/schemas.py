"""Wire shapes for the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    action: str
    client_id: uuid.UUID | None
    account_id: str | None
    credential_id: uuid.UUID | None
    version: int | None
    outcome: str
    request_id: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None
