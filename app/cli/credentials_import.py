"""``vault-admin credentials import FILE``: many sellers at once, from JSON Lines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli.context import OPERATOR, Context, console, errors, run
from app.credentials.bulk_import import (
    BatchOutcome,
    ImportLine,
    Rejection,
    import_batch,
    parse_line,
)
from app.credentials.service import NewCredentialTester
from app.state import app_state


@dataclass
class Totals:
    lines: int = 0
    imported: int = 0
    existing: int = 0
    rejected: int = 0

    def add(self, outcome: BatchOutcome) -> None:
        # Rejections are counted as they are printed, parse errors and batch ones alike.
        self.imported += outcome.imported
        self.existing += outcome.existing


@dataclass
class Chunk:
    lines: list[tuple[int, bytes]]  # (line number, text) of the non-empty lines
    size: int  # bytes read, empty lines included
    last: int  # the last line number read


def _chunks(lines: BinaryIO, size: int) -> Iterator[Chunk]:
    chunk = Chunk([], 0, 0)
    for number, raw in enumerate(lines, start=1):
        chunk.size, chunk.last = chunk.size + len(raw), number
        if raw.strip():
            chunk.lines.append((number, raw))
        if len(chunk.lines) >= size:
            yield chunk
            chunk = Chunk([], 0, number)
    if chunk.size:
        yield chunk


def _parse_next(
    chunks: Iterator[Chunk],
) -> asyncio.Task[tuple[Chunk, list[ImportLine | Rejection]]] | None:
    chunk = next(chunks, None)
    if chunk is None:
        return None

    async def parse() -> tuple[Chunk, list[ImportLine | Rejection]]:
        return chunk, list(await asyncio.gather(*(parse_line(n, raw) for n, raw in chunk.lines)))

    return asyncio.create_task(parse())


@asynccontextmanager
async def _tester(context: Context, wanted: bool) -> AsyncIterator[NewCredentialTester | None]:
    if not wanted:
        yield None
        return
    async with app_state(context.settings, context.envelope) as state:
        yield state.tester


def import_credentials(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON Lines file."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate every line; store nothing.")
    ] = False,
    test: Annotated[
        bool,
        typer.Option("--test", help="Test each new credential live; store only those accepted."),
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Live tests at a time (with --test).")
    ] = 8,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Credentials per transaction.")
    ] = 500,
) -> None:
    """Import credentials: one JSON object per line, each the body of POST /v1/credentials.

    Lines are checked as the API checks them; a rejected line is reported (line number, code,
    reason; never its secret) and the others still go in. A credential already stored with
    the same key is skipped, so running the same file again resumes a stopped import. Exit
    status 0 when every line was imported or already there, else 1."""

    async def command(context: Context) -> bool:
        totals = Totals()
        columns = (
            TextColumn("import"),
            BarColumn(),
            TextColumn("{task.fields[lines]} lines"),
            TimeRemainingColumn(),
        )
        started = time.perf_counter()
        async with _tester(context, test) as tester:
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task("import", total=file.stat().st_size, lines=0)

                def reject(rejection: Rejection) -> None:
                    totals.rejected += 1
                    errors.print(str(rejection), markup=False, highlight=False, soft_wrap=True)

                async def store(chunk: Chunk, parsed: list[ImportLine | Rejection]) -> None:
                    batch = [p for p in parsed if isinstance(p, ImportLine)]
                    refused = [p for p in parsed if isinstance(p, Rejection)]
                    outcome = await import_batch(
                        context.sessionmaker,
                        context.envelope,
                        batch,
                        caller=OPERATOR,
                        tester=tester,
                        concurrency=concurrency,
                        dry_run=dry_run,
                    )
                    totals.add(outcome)
                    for rejection in sorted(refused + outcome.rejected, key=lambda r: r.line):
                        reject(rejection)
                    totals.lines += len(chunk.lines)
                    progress.update(task, advance=chunk.size, lines=chunk.last)

                # The next chunk's keys are checked (in the key worker processes) while this
                # one is sealed and written.
                with file.open("rb") as lines:
                    chunks = _chunks(lines, batch_size)
                    parsing = _parse_next(chunks)
                    try:
                        while parsing is not None:
                            chunk, parsed = await parsing
                            parsing = _parse_next(chunks)
                            await store(chunk, parsed)
                    finally:
                        if parsing is not None:
                            parsing.cancel()
        elapsed = time.perf_counter() - started
        verb = "would import" if dry_run else "imported"
        console.print(
            f"{totals.lines} lines: {verb} {totals.imported}, already there {totals.existing}, "
            f"rejected {totals.rejected} in {elapsed:.2f}s "
            f"({totals.lines / elapsed if elapsed > 0 else 0:.0f} lines/s)"
        )
        return totals.rejected == 0

    if not run(command):
        raise typer.Exit(code=1)
