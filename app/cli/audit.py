"""``vault-admin audit``: prove the trail is whole, and read its newest events."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.audit.repository import AuditFilter, AuditRepository
from app.audit.verify import verify_chain
from app.cli.context import Context, console, errors, run

app = typer.Typer(help="The audit trail: verify the hash chain, tail events.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Check every event's hash and link; exit 1 naming the first break."""

    async def command(context: Context) -> bool:
        async with context.sessionmaker() as session:
            report = await verify_chain(session)
        if report.ok:
            console.print(f"audit chain intact: {report.events} events")
        else:
            errors.print(f"[red]audit chain broken[/red]: {report.problem}")
        return report.ok

    if not run(command):
        raise typer.Exit(code=1)


@app.command()
def tail(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many events.")] = 20,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
) -> None:
    """Show the newest events."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            rows = await AuditRepository(session).page(
                AuditFilter(action=action, account_id=account), limit=limit, before_id=None
            )
        table = Table(title="Audit events (newest first)")
        for column in ("id", "at", "action", "outcome", "client", "account", "credential", "v"):
            table.add_column(column)
        for e in rows[:limit]:
            table.add_row(
                str(e.id),
                e.at.isoformat(timespec="seconds"),
                e.action,
                e.outcome,
                str(e.client_id or "-")[:8],
                e.account_id or "-",
                str(e.credential_id or "-")[:8],
                str(e.version or "-"),
            )
        console.print(table)

    run(command)
