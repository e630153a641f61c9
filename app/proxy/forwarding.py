"""Which headers cross the proxy, each way.

Towards Walmart: the caller's own headers, except hop-by-hop ones (RFC 9110 7.6.1), ``Host``,
the caller's ``Authorization`` (its vault token, which must never reach Walmart) and any
Walmart auth header of its own (``WM_SEC.*``, ``WM_CONSUMER.*``): the vault adds those.
Back to the caller: Walmart's headers, except hop-by-hop ones; the server frames the answer.
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "cookie", "x-request-id"}
_VAULTS_OWN_PREFIXES = ("wm_sec.", "wm_consumer.")


def towards_walmart(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    kept = []
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if name in _NOT_FORWARDED or name.startswith(_VAULTS_OWN_PREFIXES):
            continue
        kept.append((name, raw_value.decode("latin-1")))
    return kept


def back_to_caller(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers
        if name.lower() not in HOP_BY_HOP
    ]
