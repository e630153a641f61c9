"""Walmart gateway error bodies.

Walmart's Marketplace gateway answers auth problems with a JSON body whose top-level key is
``error`` (singular) holding a list of objects, e.g. for a bad token or signature::

    {"error": [{"code": "UNAUTHORIZED.GMP_GATEWAY_API", "field": "UNAUTHORIZED",
                "description": "Unauthorized", "info": "...", "severity": "ERROR",
                "category": "DATA", "causes": [], "errorIdentifiers": {}}]}

(reference/walmart-auth.md section 2.6). Every error the simulator produces uses this one
shape so the vault's error classification is exercised against what Walmart really sends.
The ``info`` text says which check failed; Walmart's own texts are vaguer, but a precise
reason makes a failing vault test much quicker to diagnose.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

GATEWAY_SUFFIX = ".GMP_GATEWAY_API"

# Codes per status for injected faults (mode "status"); the 429 code is what Walmart's
# throttling layer sends, the rest follow the gateway's NAME.GMP_GATEWAY_API pattern.
_FAULT_CODES: dict[int, tuple[str, str]] = {
    400: ("BAD_REQUEST", "Bad Request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not Found"),
    429: ("REQUEST_THRESHOLD_VIOLATED", "Too Many Requests"),
    500: ("INTERNAL_SERVER_ERROR", "Internal Server Error"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
    504: ("GATEWAY_TIMEOUT", "Gateway Timeout"),
}


def error_body(code: str, field: str, description: str, info: str) -> dict[str, object]:
    """Build Walmart's ``{"error": [...]}`` body; ``code`` without the gateway suffix."""
    full_code = code if code.endswith(GATEWAY_SUFFIX) else code + GATEWAY_SUFFIX
    return {
        "error": [
            {
                "code": full_code,
                "field": field,
                "description": description,
                "info": info,
                "severity": "ERROR",
                "category": "DATA",
                "causes": [],
                "errorIdentifiers": {},
            }
        ]
    }


def walmart_error(
    status: int,
    code: str,
    field: str,
    description: str,
    info: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, field, description, info), status, headers=headers)


def unauthorized(info: str) -> JSONResponse:
    """401 UNAUTHORIZED.GMP_GATEWAY_API: bad credentials, token, or signature."""
    return walmart_error(401, "UNAUTHORIZED", "UNAUTHORIZED", "Unauthorized", info)


def missing_header(name: str) -> JSONResponse:
    """400 MISSING_REQUEST_HEADER.GMP_GATEWAY_API naming the absent header."""
    return walmart_error(
        400,
        "MISSING_REQUEST_HEADER",
        name,
        "Missing request header",
        f"Required request header '{name}' is missing or empty",
    )


def invalid_token(info: str) -> JSONResponse:
    """400 INVALID_TOKEN.GMP_GATEWAY_API: Walmart's other answer to an expired token."""
    return walmart_error(400, "INVALID_TOKEN", "WM_SEC.ACCESS_TOKEN", "Invalid token", info)


def bad_request(field: str, info: str) -> JSONResponse:
    return walmart_error(400, "INVALID_REQUEST", field, "Bad Request", info)


def fault_error(status: int, code: str | None, retry_after: int | str | None) -> JSONResponse:
    """Body for an injected ``status`` fault, with ``Retry-After`` when one was given."""
    default_code, description = _FAULT_CODES.get(status, ("SYSTEM_ERROR", "Injected fault"))
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return walmart_error(
        status,
        code or default_code,
        "SIMULATED_FAULT",
        description,
        f"Fault injected by the Walmart simulator (status {status})",
        headers=headers,
    )
