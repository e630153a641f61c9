"""``vault-admin kek``: where the data keys are, and moving them to the active KEK."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli.context import Context, console, run
from app.cli.output import JsonOption, print_json_lines, print_table
from app.db import transaction
from app.ops.keks import backlog, kek_counts, rewrap_batch

app = typer.Typer(help="Key-encryption keys: status and re-wrapping.", no_args_is_help=True)


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Count sealed values (data keys) per KEK, marking the active one."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            counts = await kek_counts(session)
        active = context.envelope.active_kek
        rows = [
            {"provider": provider, "key_id": key_id, "data_keys": count,
             "active": (provider, key_id) == active}
            for (provider, key_id), count in sorted(counts.items())
        ]  # fmt: skip
        if as_json:
            print_json_lines(rows)
            return
        columns = ("provider", "key id", "data keys", "active")
        cells = [
            (r["provider"], r["key_id"], r["data_keys"], "yes" if r["active"] else "") for r in rows
        ]
        print_table(console, "Data keys per KEK", columns, cells, id_columns=("key id",))
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
