"""``vault-admin kek``: where the data keys are, and moving them to the active KEK."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from app.cli.context import Context, console, run
from app.db import transaction
from app.ops.keks import backlog, kek_counts, rewrap_batch

app = typer.Typer(help="Key-encryption keys: status and re-wrapping.", no_args_is_help=True)


@app.command()
def status() -> None:
    """Count sealed values (data keys) per KEK, marking the active one."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            counts = await kek_counts(session)
        active = context.envelope.active_kek
        table = Table(title="Data keys per KEK")
        for column in ("provider", "key id", "data keys", "active"):
            table.add_column(column)
        for (provider, key_id), count in sorted(counts.items()):
            mark = "yes" if (provider, key_id) == active else ""
            table.add_row(provider, key_id, str(count), mark)
        console.print(table)
        waiting = sum(c for k, c in counts.items() if k != active)
        console.print(f"{waiting} data key(s) on an older KEK; active: {active[0]}/{active[1]}")

    run(command)


@app.command()
def rewrap(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Values per transaction.")
    ] = 200,
) -> None:
    """Re-wrap every data key to the active KEK. Idempotent; safe to stop and run again."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            total = await backlog(session, context.envelope)
        started, done = time.perf_counter(), 0
        columns = (TextColumn("rewrap"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
        with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task("rewrap", total=total)
            while True:
                async with transaction(context.sessionmaker) as session:
                    count = await rewrap_batch(session, context.envelope, size=batch_size)
                if count == 0:
                    break
                done += count
                progress.update(task, advance=count)
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        console.print(f"re-wrapped {done} data key(s) in {elapsed:.2f}s ({rate:.0f}/s)")

    run(command)
