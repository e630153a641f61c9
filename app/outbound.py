"""The vault's outbound HTTP clients, none of which keeps a cookie.

One process talks to Walmart for every tenant and to every webhook receiver, so a cookie one
answer sets must never ride on another tenant's call: each client gets a jar whose policy
allows no domain at all, so it stores nothing and sends nothing.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx


def cookieless_jar() -> CookieJar:
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def outbound_client(*, timeout: float, max_connections: int) -> httpx.AsyncClient:
    """A client for Walmart or webhook receivers: no redirects followed, no cookies kept."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(20, max_connections),
        ),
        follow_redirects=False,
        cookies=cookieless_jar(),
    )
