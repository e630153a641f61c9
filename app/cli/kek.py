"""``vault-admin kek``: where the data keys are, and moving them to the active KEK."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from pydantic import BaseModel, Field
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli.context import Context, console, run
from app.cli.output import JsonOption, plain, print_json_lines, print_table
from app.db import transaction
from app.keys.rewrap import backlog, kek_counts, rewrap_batch
from app.ops.kek_usage import WRAP_LIMIT, WRAP_WARNING
from app.ops.repository import KekWrapsRepository
from app.sealed import sealed_tables

app = typer.Typer(help="Key-encryption keys: status and re-wrapping.", no_args_is_help=True)


class KekStatus(BaseModel):
    provider: str
    key_id: str
    data_keys: int = Field(description="Sealed values wrapped by this KEK now.")
    wraps: int = Field(description="Data keys this KEK has wrapped, ever.")
    active: bool


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Count sealed values (data keys) and wraps ever made per KEK, marking the active one;
    warn about a KEK that should be rotated."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            counts = await kek_counts(sealed_tables(session))
            wraps = await KekWrapsRepository(session).totals()
        active = context.envelope.active_kek
        rows = [
            KekStatus(
                provider=kek[0],
                key_id=kek[1],
                data_keys=counts.get(kek, 0),
                wraps=wraps.get(kek, 0),
                active=kek == active,
            )
            for kek in sorted(counts.keys() | wraps.keys())
        ]
        if as_json:
            print_json_lines(rows)
            return
        columns = ("provider", "key id", "data keys", "wraps", "active")
        cells = [
            (r.provider, r.key_id, r.data_keys, r.wraps, "yes" if r.active else "") for r in rows
        ]
        print_table(console, "Data keys per KEK", columns, cells, id_columns=("key id",))
        for r in rows:
            if r.wraps >= WRAP_WARNING:
                console.print(
                    "[yellow]warning:[/yellow] ",
                    plain(f"{r.provider}/{r.key_id}"),
                    f" has wrapped {r.wraps:,} data keys of at most {WRAP_LIMIT:,}: "
                    "rotate it (README, Rotate the KEK)",
                    sep="",
                )
        waiting = sum(c for k, c in counts.items() if k != active)
        console.print(f"{waiting} data key(s) on an older KEK; active: {active[0]}/{active[1]}")

    run(command)


# A batch skips rows other transactions hold (a rotation, a token fetch): how long to keep
# trying while only such rows are left, and how often.
LOCKED_PATIENCE_SECONDS = 30.0
LOCKED_RETRY_SECONDS = 0.5


@app.command()
def rewrap(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Values per transaction.")
    ] = 200,
) -> None:
    """Re-wrap every data key to the active KEK. Idempotent; safe to stop and run again."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            total = await backlog(sealed_tables(session), context.envelope)
        started, done = time.perf_counter(), 0
        last_progress = started
        columns = (TextColumn("rewrap"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
        with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task("rewrap", total=total)
            while True:
                async with transaction(context.sessionmaker) as session:
                    count = await rewrap_batch(
                        sealed_tables(session), context.envelope, size=batch_size
                    )
                if count == 0:
                    async with context.sessionmaker() as session:
                        left = await backlog(sealed_tables(session), context.envelope)
                    if left == 0:
                        break
                    # Rows another transaction holds are skipped, not waited for: a batch
                    # can find nothing while values are left. Short writes let go soon.
                    if time.perf_counter() - last_progress > LOCKED_PATIENCE_SECONDS:
                        console.print(
                            f"[red]{left} data key(s) still on an older KEK: their rows stayed "
                            f"locked for {LOCKED_PATIENCE_SECONDS:.0f}s. Run this again.[/red]"
                        )
                        raise typer.Exit(code=1)
                    await asyncio.sleep(LOCKED_RETRY_SECONDS)
                    continue
                done += count
                last_progress = time.perf_counter()
                progress.update(task, advance=count)
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        console.print(f"re-wrapped {done} data key(s) in {elapsed:.2f}s ({rate:.0f}/s)")

    run(command)
