"""Bodies of any size, streamed: feed uploads are read without being kept, report downloads
are generated as they are sent. A 50 MB feed costs the simulator one chunk of memory, so a
test can measure what the *vault* holds while carrying it.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from . import errors

PATTERN = bytes(range(256)) * 256  # 64 KiB, the unit every download repeats
MAX_DOWNLOAD = 1 << 31


async def drain(request: Request) -> tuple[int, str]:
    """Size and SHA-256 of the request body, read chunk by chunk."""
    digest, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def pattern_bytes(size: int) -> bytes:
    """The body of a download of ``size`` bytes (for tests that build the expected value)."""
    whole, rest = divmod(size, len(PATTERN))
    return PATTERN * whole + PATTERN[:rest]


def download(request: Request) -> Response:
    """``GET /v3/reports/download?bytes=N``: N bytes of ``PATTERN`` with a Content-Length."""
    raw = request.query_params.get("bytes", "1024")
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_DOWNLOAD:
        return errors.bad_request("bytes", f"bytes must be an integer up to {MAX_DOWNLOAD}")
    size = int(raw)

    async def chunks() -> AsyncIterator[bytes]:
        left = size
        while left > 0:
            piece = PATTERN[: min(left, len(PATTERN))]
            left -= len(piece)
            yield piece

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size), "X-Report-Bytes": str(size)},
    )
