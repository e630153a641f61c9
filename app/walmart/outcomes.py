"""Classifying Walmart's answers (and failures to get one) into the contract's outcomes.

Walmart reports bad credentials as 401 ``UNAUTHORIZED.GMP_GATEWAY_API``, and an expired or
unusable token sometimes as 400 ``INVALID_TOKEN.GMP_GATEWAY_API``; its token endpoint answers
a bare 400 to unknown clients. All of those mean "these credentials do not work".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
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
# Retry-After is whole seconds or an HTTP date (RFC 9110 10.2.3). Anything else ("1e999",
# "nan", "-5", "1.5") gets the default, and no wait is ever longer than the maximum: the value
# ends up in a backoff, a response header and a JSON body, none of which can hold infinity.
DEFAULT_RETRY_AFTER_SECONDS = 1
MAX_RETRY_AFTER_SECONDS = 60
_DELAY_SECONDS = re.compile(r"[0-9]+")


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


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after")
    return None if value is None else parse_retry_after(value)


def parse_retry_after(value: str, *, now: datetime | None = None) -> int:
    """Whole seconds to wait, from 0 to ``MAX_RETRY_AFTER_SECONDS``, for a Retry-After value."""
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        # Compared as text first: a thousand digits need no conversion to be "too many".
        return (
            MAX_RETRY_AFTER_SECONDS if len(value) > 6 else min(int(value), MAX_RETRY_AFTER_SECONDS)
        )
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_SECONDS
    if moment.tzinfo is None:  # "-0000": RFC 5322's "no zone given", read as UTC
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return max(0, min(int(seconds + 0.999), MAX_RETRY_AFTER_SECONDS))
