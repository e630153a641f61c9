"""Keyset pagination shared by every list: ``limit`` 1..200 (default 50) and an opaque cursor.

The cursor is the sort key of the last item returned (base64url JSON), so a page never skips or
repeats rows that were inserted while a client was paging.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import InvalidRequest

MAX_BIGINT = 2**63 - 1
Row = TypeVar("Row")
_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    cursor: str | None

    def after_time_id(self) -> tuple[datetime, uuid.UUID] | None:
        """Decode a cursor made by ``time_id_cursor``."""
        if self.cursor is None:
            return None
        try:
            at, last_id = _decode(self.cursor)
            moment = datetime.fromisoformat(at)
            if moment.tzinfo is None:
                raise ValueError("naive")
            return moment.astimezone(UTC), uuid.UUID(last_id)
        except (ValueError, TypeError, OverflowError) as exc:
            raise _bad_cursor() from exc

    def after_int(self) -> int | None:
        """Decode a cursor made by ``int_cursor``."""
        if self.cursor is None:
            return None
        try:
            (last_id,) = _decode(self.cursor)
        except ValueError as exc:
            raise _bad_cursor() from exc
        # Ids are BIGINT: a larger number would reach the database and fail there (a 500).
        if not _DIGITS.fullmatch(last_id) or int(last_id) > MAX_BIGINT:
            raise _bad_cursor()
        return int(last_id)


def time_id_cursor(at: datetime, item_id: uuid.UUID) -> str:
    return _encode([at.isoformat(), str(item_id)])


def time_id_cursor_of(row: Any) -> str:
    """The cursor after a row keyed by ``created_at`` and ``id`` (see ``by_time_id``)."""
    return time_id_cursor(row.created_at, row.id)


def cut(
    rows: Sequence[Row], page: PageRequest, cursor_of: Callable[[Row], str]
) -> tuple[list[Row], str | None]:
    """The page's items and its ``next_cursor``, from rows fetched with ``limit + 1``.

    The extra row only says whether another page exists; the cursor is that of the last row shown.
    """
    items = list(rows[: page.limit])
    more = len(rows) > page.limit
    return items, cursor_of(items[-1]) if more else None


def by_time_id(
    query: Select[Row],
    created_at: InstrumentedAttribute[datetime],
    item_id: InstrumentedAttribute[uuid.UUID],
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    newest_first: bool = True,
) -> Select[Row]:
    """``query`` restricted to the rows after the cursor's (created_at, id), in that order.

    Fetches ``limit + 1`` rows so ``cut`` can tell whether another page exists.
    """
    if after is not None:
        at, last_id = after
        if newest_first:
            query = query.where((created_at < at) | ((created_at == at) & (item_id < last_id)))
        else:
            query = query.where((created_at > at) | ((created_at == at) & (item_id > last_id)))
    order = (created_at.desc(), item_id.desc()) if newest_first else (created_at, item_id)
    return query.order_by(*order).limit(limit + 1)


def int_cursor(item_id: int) -> str:
    return _encode([str(item_id)])


def _encode(values: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _bad_cursor()
    return values


def _bad_cursor() -> InvalidRequest:
    return InvalidRequest(
        "The cursor is not one this service issued; pass next_cursor from the previous page.",
        details={"field": "cursor"},
    )


async def page_request(
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor from the previous page.")
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


PageDep = Annotated[PageRequest, Depends(page_request)]


def for_accounts(
    query: Select[Row], column: Any, *, account_id: str | None, account_ids: frozenset[str] | None
) -> Select[Row]:
    """``query`` limited to one account and/or to a caller's accounts (``None``: no limit)."""
    if account_id is not None:
        query = query.where(column == account_id)
    if account_ids is not None:
        query = query.where(column.in_(sorted(account_ids)))
    return query
