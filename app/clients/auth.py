"""The authentication dependency: every /v1 route names the scope it needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.clients.directory import CallerDirectory
from app.clients.scopes import Caller, Scope
from app.errors import Forbidden

# auto_error=False: a missing header is answered by our own 401 in the one error shape.
bearer_scheme = HTTPBearer(auto_error=False, description="An API client's token.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def require(scope: Scope, *, all_accounts: bool = False) -> Callable[..., Awaitable[Caller]]:
    """A dependency that authenticates the caller and checks it holds ``scope`` (and, with
    ``all_accounts``, that it is not limited to some accounts)."""

    async def dependency(request: Request, _bearer: BearerDep) -> Caller:
        callers: CallerDirectory = request.app.state.vault.callers
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
