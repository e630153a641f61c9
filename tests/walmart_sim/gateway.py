"""Request helpers shared by the Walmart-side handlers: header access, required-header
checks, market matching, Basic credentials, and the per-request log record.

Header lookups go through Starlette's case-insensitive ``Headers``; values are stripped so
a header that is present but blank counts as missing, as a gateway validating
"required" would treat it.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request
from starlette.responses import Response

from . import errors
from .models import OAuthClient, RequestRecord

SVC_NAME = "WM_SVC.NAME"
CORRELATION_ID = "WM_QOS.CORRELATION_ID"
ACCESS_TOKEN = "WM_SEC.ACCESS_TOKEN"
CHANNEL_TYPE = "WM_CONSUMER.CHANNEL.TYPE"
SIGNATURE_HEADERS = ("WM_CONSUMER.ID", "WM_SEC.TIMESTAMP", "WM_SEC.AUTH_SIGNATURE", CHANNEL_TYPE)
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
RECORD_KEY = "walmart_sim.record"


def record_of(request: Request) -> RequestRecord:
    # Requests that bypass the middleware (direct app use in a unit test) still work.
    record = request.scope.get(RECORD_KEY)
    return record if isinstance(record, RequestRecord) else RequestRecord(0, "", "", "", [])


def header(request: Request, name: str) -> str:
    return request.headers.get(name, "").strip()


def require(request: Request, *names: str) -> Response | None:
    for name in names:
        if not header(request, name):
            return errors.missing_header(name)
    return None


def market_mismatch(request: Request, client: OAuthClient) -> Response | None:
    sent = header(request, "WM_MARKET") or "US"
    if sent.upper() != client.market.upper():
        return errors.unauthorized(
            f"WM_MARKET '{sent}' does not match the market of this client ({client.market})"
        )
    return None


def basic_credentials(value: str) -> tuple[str, str] | None:
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


# Walmart's MX and CL auth pages list Authorization: Basic on every call, and
# WM_CONSUMER.CHANNEL.TYPE as required for V3 (reference 2.5; the MX orders spec marks
# security basic + accessToken).
BASIC_AND_CHANNEL_MARKETS = ("MX", "CL")


def basic_mismatch(request: Request, client: OAuthClient, info: str) -> Response | None:
    """401 unless ``Authorization: Basic`` carries this client's own id and secret."""
    creds = basic_credentials(request.headers.get("authorization", ""))
    if creds is None or creds[0] != client.client_id:
        return errors.unauthorized(info)
    if not hmac.compare_digest(creds[1].encode(), client.client_secret.encode()):
        return errors.unauthorized("Invalid client credentials")
    return None
