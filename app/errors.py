"""The one error vocabulary of the service.

Code below the routers raises a ``VaultError`` subclass; ``app.main`` renders every one of them
as ``{"error": {"code", "message", "details"}}`` with the class's HTTP status. Messages are
sentences for a person and never carry a secret or echo raw input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from app.validation_problems import describe


class VaultError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidRequest(VaultError):
    status_code = 422
    code = "invalid_request"


class InvalidPrivateKeyError(InvalidRequest):
    code = "invalid_private_key"


class SchemeNotAvailable(InvalidRequest):
    code = "auth_kind_not_available"


class Unauthenticated(VaultError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(VaultError):
    status_code = 403
    code = "forbidden"


class NotFound(VaultError):
    status_code = 404
    code = "not_found"


class Conflict(VaultError):
    status_code = 409
    code = "conflict"


class CredentialDisabled(Conflict):
    code = "credential_disabled"


class CredentialExists(Conflict):
    """The slot (account, market, environment) already holds a live credential."""

    code = "credential_exists"


class CredentialMismatch(Conflict):
    """A request names a stored credential whose own values differ from the request's."""

    code = "credential_mismatch"


class IntakeLinkNotActive(Conflict):
    code = "intake_link_not_active"


class ServiceUnavailable(VaultError):
    status_code = 503
    code = "service_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database did not answer (down, restarting, unreachable, out of connections)."""

    code = "database_unavailable"
    RETRY_AFTER_SECONDS = 1  # a restart or a failover is over in seconds

    def __init__(
        self,
        message: str = "The database did not answer; try again shortly.",
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        retry = {"Retry-After": str(self.RETRY_AFTER_SECONDS)}
        super().__init__(message, details=details, headers=retry | (headers or {}))


class KeyServiceUnavailable(ServiceUnavailable):
    code = "kek_unavailable"


MAX_REPORTED_PROBLEMS = 20


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A summary sentence and ``details`` for pydantic's errors, shared by the API and the
    import command. Never the input itself: it may be a private key or a client secret."""
    problems = [describe(e) for e in errors[:MAX_REPORTED_PROBLEMS]]
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
    details: dict[str, Any] = {"errors": problems}
    if len(errors) > MAX_REPORTED_PROBLEMS:
        # An answer never grows far beyond its request (6,000 unknown keys, say).
        details["truncated"] = len(errors) - MAX_REPORTED_PROBLEMS
    return summary, details


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["No credential with id 3f0c... exists."])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """The shape of every error answer; documented on each operation."""

    error: ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the given error statuses, all with the error schema.

    413 is added to every operation: the body limit applies to any request that sends one."""
    statuses = tuple(sorted({*statuses, 413}))
    descriptions = {
        401: "No bearer token, or an unknown or revoked one.",
        403: "The token lacks the scope or the account.",
        404: "No such resource.",
        409: "Conflicts with the current state.",
        413: "The request body is larger than 64 KiB.",
        422: "The request is malformed or a value is invalid; nothing was stored.",
        502: "Walmart refused or failed the token call needed for these headers.",
        503: "A dependency (database, key service, or Walmart rate limit) is unavailable.",
        504: "Walmart did not answer within the time budget.",
    }
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses}


class WalmartError(VaultError):
    """Walmart (through the token broker) could not give what the caller needs."""

    status_code = 502
    code = "walmart_unavailable"


class WalmartRejectedCredentials(WalmartError):
    code = "walmart_rejected_credentials"


class WalmartForbidden(WalmartError):
    code = "walmart_forbidden"


class WalmartUnreachable(WalmartError):
    code = "walmart_unreachable"


class WalmartRateLimited(WalmartError):
    status_code = 503
    code = "walmart_rate_limited"


class WalmartTimeout(WalmartError):
    status_code = 504
    code = "walmart_timeout"


class CredentialTestFailed(VaultError):
    status_code = 422
    code = "credential_test_failed"


class PublicUrlNotSet(ServiceUnavailable):
    code = "public_url_not_set"


class WalmartAppRequired(Conflict):
    code = "walmart_app_required"


class WalmartAppInUse(Conflict):
    code = "walmart_app_in_use"


class WalmartAppExists(Conflict):
    code = "walmart_app_exists"


class WebhookDisabled(Conflict):
    code = "webhook_disabled"


class ReconnectRequired(Conflict):
    """Walmart refused an App Store connection's refresh token: the seller must connect again."""

    code = "reconnect_required"
