"""Classifying Walmart's answers (and failures to get one) into the contract's outcomes.

Walmart reports bad credentials as 401 ``UNAUTHORIZED.GMP_GATEWAY_API``, and an expired or
unusable token sometimes as 400 ``INVALID_TOKEN.GMP_GATEWAY_API``; its token endpoint answers
a bare 400 to unknown clients. All of those mean "these credentials do not work".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

Outcome = Literal[
    "valid",
    "invalid_credentials",
    "forbidden",
    "channel_mismatch",
    "rate_limited",
    "walmart_unavailable",
    "timeout",
    "network_error",
]
INVALID_TOKEN_CODE = "INVALID_TOKEN.GMP_GATEWAY_API"  # noqa: S105  (an error code)


@dataclass
class WalmartFailure(Exception):
    """One failed call to Walmart, already classified. Carries no secret and no token."""

    outcome: Outcome
    message: str
    status: int | None = None
    error_code: str | None = None
    correlation_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.outcome}: {self.message}"


def error_code(response: httpx.Response) -> str | None:
    """The first ``code`` of Walmart's error body (``error`` or ``errors``, list or object)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    errors = body.get("error", body.get("errors"))
    if isinstance(errors, dict):
        errors = errors.get("error", [errors])
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
        return str(code)[:100] if code is not None else None
    return None


def failure_from_response(
    response: httpx.Response, *, token_call: bool, correlation_id: str
) -> WalmartFailure | None:
    """``None`` for a 2xx answer, otherwise the classified failure."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    code = error_code(response)
    if status == 401 or (status == 400 and (token_call or code == INVALID_TOKEN_CODE)):
        outcome: Outcome = "invalid_credentials"
        message = "Walmart refused the credentials."
    elif status == 403:
        outcome, message = "forbidden", "Walmart accepted the credentials but refused access."
    elif status == 429:
        outcome, message = "rate_limited", "Walmart is rate limiting these credentials."
    else:
        outcome = "walmart_unavailable"
        message = f"Walmart answered with an unexpected status {status}."
    details = {"retry_after": _retry_after(response)} if status == 429 else {}
    return WalmartFailure(outcome, message, status, code, correlation_id, details)


def unreadable_body(status: int, correlation_id: str) -> WalmartFailure:
    return WalmartFailure(
        "walmart_unavailable",
        "Walmart answered 2xx with a body that could not be read.",
        status=status,
        correlation_id=correlation_id,
    )


def failure_from_exception(exc: BaseException, correlation_id: str | None) -> WalmartFailure:
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return WalmartFailure(
            "timeout",
            "Walmart did not answer within the time budget.",
            correlation_id=correlation_id,
        )
    return WalmartFailure(
        "network_error",
        f"Walmart could not be reached ({type(exc).__name__}).",
        correlation_id=correlation_id,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
