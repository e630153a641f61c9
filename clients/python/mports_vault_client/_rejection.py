"""Which Walmart answers mean "this token (or signature) is no longer good": retry once.

Walmart answers an expired or revoked token with 401 ``UNAUTHORIZED.GMP_GATEWAY_API`` on
some paths and eras, and with 400 ``INVALID_TOKEN.GMP_GATEWAY_API`` on others; a bad or stale
signature is a 401 as well. Any 401 counts. A 400 counts only with that code, found in any of
the error shapes the gateway uses: ``{"error": [...]}``, ``{"errors": [...]}`` and the wrapped
``{"errors": {"error": [...]}}``. Any other 400 is the caller's own mistake: no retry.
"""

from __future__ import annotations

import httpx

EXPIRED_CODE = "INVALID_TOKEN.GMP_GATEWAY_API"


def token_rejected(response: httpx.Response) -> bool:
    """Call with the body read when the status is 400 (only then is it looked at)."""
    if response.status_code == 401:
        return True
    return response.status_code == 400 and EXPIRED_CODE in _error_codes(response)


def _error_codes(response: httpx.Response) -> set[str]:
    try:
        payload: object = response.json()
    except ValueError:
        return set()
    if not isinstance(payload, dict):
        return set()
    codes: set[str] = set()
    for key in ("error", "errors"):
        for entry in _entries(payload.get(key)):
            if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                codes.add(entry["code"])
    return codes


def _entries(value: object) -> list[object]:
    if isinstance(value, dict):
        value = value.get("error", value)  # {"errors": {"error": [...]}} wraps the list
    if isinstance(value, dict):
        return [value]
    return list(value) if isinstance(value, list) else []
