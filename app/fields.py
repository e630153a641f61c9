"""Validated field types shared by request bodies.

Identifiers travel into Walmart request headers, so anything that could split or smuggle a
header (control characters, CR/LF, spaces) is refused here, at the edge.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

Market = Literal["US", "CA", "MX", "CL"]
Environment = Literal["production", "sandbox"]

_HEADER_SAFE = re.compile(r"[!-~]+")  # visible ASCII: no spaces, no control characters
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")


def _header_safe(value: str) -> str:
    if not _HEADER_SAFE.fullmatch(value):
        raise ValueError(
            "must be visible ASCII characters only (no spaces, control characters or line breaks)"
        )
    return value


def _account(value: str) -> str:
    if not _ACCOUNT.fullmatch(value):
        raise ValueError(
            "must start with a letter or digit and use only letters, digits and . _ : @ -"
        )
    return value


def _no_control_characters(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


HeaderValue = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_header_safe)]
AccountId = Annotated[
    str, Field(min_length=1, max_length=64, examples=["acme-001"]), AfterValidator(_account)
]
Label = Annotated[
    str,
    Field(min_length=1, max_length=200, examples=["Acme main store"]),
    AfterValidator(_no_control_characters),
]
