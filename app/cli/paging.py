"""Lists that a command shows whole: page after page through the service's own keyset
pagination, so an operator never gets the first 200 rows presented as all of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from app.pagination import PageRequest, cut, time_id_cursor_of

Row = TypeVar("Row")
PAGE_SIZE = 200  # the largest page the services serve


async def every_row(
    fetch: Callable[[PageRequest], Awaitable[Sequence[Row]]],
    *,
    cursor_of: Callable[[Row], str] = time_id_cursor_of,
    page_size: int = PAGE_SIZE,
) -> list[Row]:
    """Every row ``fetch`` lists, one page at a time (none skipped or repeated: the cursor is
    the last row's sort key, whatever is added meanwhile)."""
    rows: list[Row] = []
    cursor: str | None = None
    while True:
        page = PageRequest(limit=page_size, cursor=cursor)
        shown, cursor = cut(await fetch(page), page, cursor_of)
        rows.extend(shown)
        if cursor is None:
            return rows
