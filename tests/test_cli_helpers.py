"""The cli package's shared helpers: ``valid_body`` (options as a request body) and
``every_row`` (a command's list is every row, page after page, none repeated or cut)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import typer

from app.cli.bodies import valid_body
from app.cli.paging import every_row
from app.connections.schemas import WalmartAppCreate
from app.pagination import PageRequest


@dataclass(frozen=True)
class Row:
    created_at: datetime
    id: uuid.UUID


START = datetime(2025, 1, 1, tzinfo=UTC)
# Newest first, as the services list; two rows share a moment, so the id breaks the tie.
ROWS = sorted(
    [Row(START + timedelta(seconds=n // 2), uuid.uuid4()) for n in range(11)],
    key=lambda r: (r.created_at, r.id),
    reverse=True,
)


async def test_pages_through_every_row_once() -> None:
    asked: list[PageRequest] = []

    async def fetch(page: PageRequest) -> Sequence[Row]:
        asked.append(page)
        after = page.after_time_id()
        rest = [r for r in ROWS if after is None or (r.created_at, r.id) < after]
        return rest[: page.limit + 1]  # one more than the page, as repositories fetch

    assert await every_row(fetch, page_size=4) == ROWS
    assert [page.limit for page in asked] == [4, 4, 4]
    assert asked[0].cursor is None


async def test_an_empty_list_is_one_call() -> None:
    calls = 0

    async def fetch(page: PageRequest) -> Sequence[Row]:
        nonlocal calls
        calls += 1
        return []

    assert await every_row(fetch) == []
    assert calls == 1


def test_valid_options_become_the_apis_body() -> None:
    values = {
        "label": "mPorts",
        "environment": "sandbox",
        "client_id": "c-1",
        "client_secret": "APP-secret",
    }
    body = valid_body(WalmartAppCreate, values)
    assert (body.environment, body.client_id) == ("sandbox", "c-1")


def test_invalid_options_name_the_fields_never_their_values() -> None:
    values = {
        "label": "mPorts",
        "environment": "prod-XYZ",
        "client_id": "c-1",
        "client_secret": "S3CRET-" + "x" * 2000,
    }
    with pytest.raises(typer.BadParameter) as refused:
        valid_body(WalmartAppCreate, values)
    assert refused.value.message == "not valid: environment, client_secret"
    assert "S3CRET" not in str(refused.value)
    assert "prod-XYZ" not in str(refused.value)
