"""One normal form for the URLs the vault signs (RFC 3986 section 6).

Walmart checks a signature against the URL bytes on the request line, and common HTTP clients
rewrite URLs before sending them: httpx, requests, urllib and curl lower-case the scheme and
host and remove dot segments; requests (urllib3) upper-cases percent-escapes, decodes escaped
unreserved characters and escapes ``"`` ``|`` ``[`` ``]`` ``\\``; a trailing ``?`` is dropped.
A URL signed as given would then fail with a 401 and no warning. So the vault signs the form
every one of them leaves as it is:

- scheme and host lower-case, a default port dropped, an empty path written ``/``;
- percent-escapes upper-case, escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``)
  decoded, characters that may not appear in a URL (``" < > [ \\ ] ^ ` { | }``) escaped;
- dot segments (``/./``, ``/../``) removed, and no empty query.

None of that changes what the URL means. Where normalising would (a ``%`` that starts no
escape, an escaped dot segment, ``..`` above the root), the URL is refused with
``UrlProblem`` naming the part.
"""

from __future__ import annotations

import re

_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?", re.DOTALL)
# A URL already in normal form: the common case takes three regex scans instead of the full
# rewrite (the headers route is a hot path).
_PLAIN = re.compile(
    r"https?://[a-z0-9.\-]+(?::[0-9]+)?(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-F]{2})*)+"
    r"(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-F]{2})+)?"
)
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|\?|$)")
_UNRESERVED_ESCAPE = re.compile(r"%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2[DE]|5F|7E)")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_NOT_IN_URLS = re.compile(r"[\"<>\[\\\]^`{|}]")
_ESCAPED_DOT_SEGMENT = re.compile(r"(?:%2E|\.){1,2}", re.IGNORECASE)


class UrlProblem(ValueError):
    """Normalising this URL would change what it means; the message names the part."""


def normalise_url(url: str) -> str:
    """The normal form of an absolute http(s) URL; ``UrlProblem`` when there is none.

    A fragment is kept out by the caller (it is never sent). ``url`` is ASCII without
    whitespace or control characters (the request models see to it).
    """
    if (
        _PLAIN.fullmatch(url)
        and not _DOT_SEGMENT.search(url)
        and not _UNRESERVED_ESCAPE.search(url)
    ):
        return url
    match = _ABSOLUTE.fullmatch(url)
    if match is None:
        raise UrlProblem("it is not an absolute URL of the form scheme://host/path?query")
    scheme, authority, path, query = match.groups()
    scheme = scheme.lower()
    authority = authority.lower()
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port and authority.endswith(default_port):
        authority = authority[: -len(default_port)]
    path = _path(path or "/")
    normal = f"{scheme}://{authority}{path}"
    if query:
        normal += "?" + _component(query, "query")
    return normal


def _path(path: str) -> str:
    segments: list[str] = []
    raw = path.split("/")[1:]
    for index, segment in enumerate(raw):
        if "%" in segment and _ESCAPED_DOT_SEGMENT.fullmatch(segment):
            raise UrlProblem(
                f"its path has a percent-encoded dot segment ('{segment}'), which clients would "
                "read as a path step; write the path you mean without it"
            )
        segment = _component(segment, "path")
        last = index == len(raw) - 1
        if segment in (".", ".."):
            if segment == "..":
                if not segments:
                    raise UrlProblem("its path climbs above the root with '..'")
                segments.pop()
            if last:
                segments.append("")
        else:
            segments.append(segment)
    return "/" + "/".join(segments)


def _component(text: str, part: str) -> str:
    stray = _STRAY_PERCENT.search(text)
    if stray is not None:
        raise UrlProblem(
            f"its {part} has a '%' at character {stray.start() + 1} that does not start an escape "
            "(two hex digits); write %25 for a literal percent sign"
        )
    text = _ESCAPE.sub(_escape, text)
    return _NOT_IN_URLS.sub(lambda m: f"%{ord(m[0]):02X}", text)


def _escape(match: re.Match[str]) -> str:
    character = chr(int(match[1], 16))
    return character if character in _UNRESERVED else f"%{match[1].upper()}"
