"""How commands print stored data: tables for people, JSON Lines for scripts.

Labels, names and ids were typed by callers of the API, some of them limited to one account.
Rich reads ``[...]`` in a plain string as markup: a label ``Acme CA[/]`` crashed the listing
operators use to find what to revoke, and ``[link=...]`` or colours could make one row pass for
another. So every cell is a ``Text``, which Rich never parses, and every message that quotes
stored text goes through ``plain``. Ids keep their full width whatever the terminal's (an id
cut to ``3b1012c0…`` cannot be pasted into ``clients revoke``); the other columns wrap.
With ``--json`` a list prints one JSON object per line and no table at all.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

# A UUID's text form; integer ids are shorter.
ID_WIDTH = 36

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object per line instead of a table.")
]


def plain(value: object) -> Text:
    """Stored text as it is, never read as markup."""
    return Text(str(value))


def print_table(
    console: Console,
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    id_columns: Sequence[str] = ("id",),
) -> None:
    table = Table(title=title)
    for column in columns:
        if column in id_columns:
            table.add_column(column, no_wrap=True, min_width=ID_WIDTH, overflow="ignore")
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(plain(cell) for cell in row))
    console.print(table)


def print_json_lines(items: Iterable[BaseModel | dict[str, Any]]) -> None:
    for item in items:
        data = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
