"""Which Walmart paths the proxy refuses before anything is sent.

An encoded slash, backslash or NUL (``%2F``, ``%5C``, ``%00``) hides a path's real segments
from the URL normal form and the audit trail (``v3%2F..%2Fx`` is one segment here and three at
Walmart), so such a path is refused, not forwarded. Walmart's token endpoint (``/v3/token`` and
everything under it) is refused too: the proxy adds Basic in MX and CL, so forwarding it would
hand a ``walmart:call`` client a raw access token. The check runs on the decoded path with its
dot segments and empty segments resolved, and ignores case, so no spelling slips past it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from app.errors import Forbidden, InvalidRequest

_HIDING = re.compile(r"%(2f|5c|00)", re.IGNORECASE)
_NAMES = {"2f": "an encoded slash (%2F)", "5c": "an encoded backslash (%5C)", "00": "a NUL (%00)"}
_TOKEN_ENDPOINT = ("v3", "token")


class ProxyPathRefused(InvalidRequest):
    code = "proxy_path_not_allowed"


class TokenEndpointRefused(Forbidden):
    code = "token_endpoint_not_proxied"


def check_walmart_path(path: str) -> None:
    """``path`` as received, without its leading slash; raises naming the problem."""
    hidden = _HIDING.search(path)
    if hidden is not None:
        raise ProxyPathRefused(
            f"The Walmart path contains {_NAMES[hidden.group(1).lower()]}, which the proxy "
            "refuses: send the path with plain slashes.",
            details={"field": "path"},
        )
    if _segments(path)[:2] == _TOKEN_ENDPOINT:
        raise TokenEndpointRefused(
            "The proxy does not forward Walmart's token endpoint (/v3/token): access tokens "
            "stay inside the vault. Send the Walmart call itself through the proxy instead.",
            details={"field": "path"},
        )


def _segments(path: str) -> tuple[str, ...]:
    resolved: list[str] = []
    for segment in unquote(path).replace("\\", "/").split("/"):
        segment = segment.split(";", 1)[0].strip().lower()
        if segment in ("", "."):
            continue
        if segment == "..":
            if resolved:
                resolved.pop()
            continue
        resolved.append(segment)
    return tuple(resolved)
