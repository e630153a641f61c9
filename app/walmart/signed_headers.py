"""The exact header sets handed to callers for one Walmart call, per credential kind.

Which headers a market needs is decided in :mod:`app.walmart.markets`; this module only
fills them in.
"""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from app.crypto import sign_request
from app.walmart.markets import DEFAULT_ACCEPT, market_header


def signature_headers(
    key: RSAPrivateKey,
    *,
    consumer_id: str,
    channel_type: str | None,
    url: str,
    method: str,
    timestamp_ms: int,
    svc_name: str,
    accept: str = DEFAULT_ACCEPT,
) -> dict[str, str]:
    signature = sign_request(
        key, consumer_id=consumer_id, url=url, method=method, timestamp_ms=timestamp_ms
    )
    return {
        "WM_SEC.AUTH_SIGNATURE": signature,
        "WM_SEC.TIMESTAMP": str(timestamp_ms),
        "WM_CONSUMER.ID": consumer_id,
        "WM_CONSUMER.CHANNEL.TYPE": channel_type or "",
        "WM_SVC.NAME": svc_name,
        "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
        "Accept": accept,
    }


def oauth_headers(
    access_token: str,
    *,
    market: str,
    channel_type: str | None,
    svc_name: str,
    accept: str = DEFAULT_ACCEPT,
) -> dict[str, str]:
    headers = {
        "WM_SEC.ACCESS_TOKEN": access_token,
        "WM_SVC.NAME": svc_name,
        "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
        "Accept": accept,
    } | market_header(market)
    if channel_type:
        headers["WM_CONSUMER.CHANNEL.TYPE"] = channel_type
    return headers
