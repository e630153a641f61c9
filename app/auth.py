"""Who is calling and what they may do: scopes, the authenticated caller, and the dependency
every ``/v1`` route uses to require a scope.

It sits below every domain package, so any router (and the audit trail) can name a caller
without importing the package that keeps API clients. The lookup itself (token hash to
caller, cached) is ``app.clients.directory.CallerDirectory``, reached through the lifespan
state as an ``Authenticator``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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
            # Not named: the account may come from a stored credential the caller only knows
            # by id, and whose owner it must not learn.
            raise Forbidden("This API client is not allowed to act on that account.")


class Authenticator(Protocol):
    async def authenticate(self, authorization: str | None, request_id: str | None) -> Caller:
        """The caller behind an ``Authorization: Bearer`` header, or ``Unauthenticated``."""


# auto_error=False: a missing header is answered by our own 401 in the one error shape.
bearer_scheme = HTTPBearer(auto_error=False, description="An API client's token.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def require(scope: Scope, *, all_accounts: bool = False) -> Callable[..., Awaitable[Caller]]:
    """A dependency that authenticates the caller and checks it holds ``scope`` (and, with
    ``all_accounts``, that it is not limited to some accounts)."""

    async def dependency(request: Request, _bearer: BearerDep) -> Caller:
        callers: Authenticator = request.app.state.vault.callers
        caller = await callers.authenticate(
            request.headers.get("authorization"), request.state.request_id
        )
        request.state.client_id = str(caller.client_id)
        if not caller.has_scope(scope):
            raise Forbidden(
                f"This API client lacks the '{scope}' scope.", details={"required_scope": scope}
            )
        if all_accounts and caller.account_ids is not None:
            # A client limited to some accounts must not mint or revoke clients: it could
            # create one without the limit, or revoke the admins above it.
            raise Forbidden(
                "This needs an admin client that is not limited to some accounts.",
                details={"required_scope": scope, "account_limited": True},
            )
        return caller

    return dependency


ClientAdminCaller = Annotated[Caller, Depends(require("admin", all_accounts=True))]
ReadCaller = Annotated[Caller, Depends(require("credentials:read"))]
WriteCaller = Annotated[Caller, Depends(require("credentials:write"))]
TestCaller = Annotated[Caller, Depends(require("credentials:test"))]
HeadersCaller = Annotated[Caller, Depends(require("headers:issue"))]
AuditCaller = Annotated[Caller, Depends(require("audit:read"))]
WalmartCaller = Annotated[Caller, Depends(require("walmart:call"))]
