"""Which URLs a webhook may target: a webhook is a request the vault makes on someone's
behalf, so its host must be one the operator allowed (``VAULT_WEBHOOK_ALLOWED_HOSTS``).

An entry is a host name or address (``hooks.mports.example``, ``10.0.4.7``) or a wildcard for
sub-domains (``*.mports.example``). Plain ``http`` is accepted only for loopback receivers;
anything else must use ``https``. Redirects are never followed when delivering, so an allowed
host cannot bounce a delivery elsewhere.
"""

from __future__ import annotations

import httpx

from app.errors import InvalidRequest

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class WebhookUrlNotAllowed(InvalidRequest):
    code = "webhook_url_not_allowed"


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    host = host.lower().rstrip(".")
    if host in allowed:
        return True
    return any(
        entry.startswith("*.") and host.endswith(entry[1:]) and host != entry[2:]
        for entry in allowed
    )


def check_url(url: str, allowed: frozenset[str]) -> str:
    """The URL, normalised, if the vault may send webhooks to it; else a clear 422."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise WebhookUrlNotAllowed("url is not a valid URL.", details={"field": "url"}) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise WebhookUrlNotAllowed("url must be an absolute http(s) URL.", details={"field": "url"})
    if parsed.userinfo:
        raise WebhookUrlNotAllowed(
            "url must not carry a user name or password.", details={"field": "url"}
        )
    if parsed.scheme == "http" and parsed.host not in LOOPBACK:
        raise WebhookUrlNotAllowed(
            "url must use https (plain http only to a loopback receiver).",
            details={"field": "url"},
        )
    if not host_allowed(parsed.host, allowed):
        raise WebhookUrlNotAllowed(
            f"The host {parsed.host} is not in VAULT_WEBHOOK_ALLOWED_HOSTS; ask the operator "
            "to allow it.",
            details={"field": "url", "host": parsed.host},
        )
    return str(parsed)
