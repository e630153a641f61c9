"""Scopes and the authenticated caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from app.errors import Forbidden

Scope = Literal[
    "credentials:read",
    "credentials:write",
    "credentials:test",
    "headers:issue",
    "audit:read",
    "walmart:call",
    "admin",
]
ALL_SCOPES: tuple[Scope, ...] = (
    "credentials:read",
    "credentials:write",
    "credentials:test",
    "headers:issue",
    "audit:read",
    "walmart:call",
    "admin",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling in this request: an API client's id, scopes, the accounts it may touch
    (``None``: all) and the request id that its audit events carry."""

    client_id: uuid.UUID | None
    name: str
    scopes: frozenset[str]
    account_ids: frozenset[str] | None
    request_id: str | None = None

    def has_scope(self, scope: Scope) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def may_access(self, account_id: str) -> bool:
        return self.account_ids is None or account_id in self.account_ids

    def ensure_account(self, account_id: str) -> None:
        if not self.may_access(account_id):
            raise Forbidden(
                "This API client is not allowed to act on that account.",
                details={"account_id": account_id},
            )
