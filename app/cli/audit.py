"""``vault-admin audit``: prove the trail is whole, and read its newest events."""

from __future__ import annotations

from typing import Annotated

import typer

from app.audit.repository import AuditFilter, AuditRepository
from app.audit.schemas import AuditEventOut
from app.audit.verify import verify_chain
from app.cli.context import Context, console, errors, run
from app.cli.output import JsonOption, plain, print_json_lines, print_table

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
            errors.print("[red]audit chain broken[/red]: ", plain(report.problem), sep="")
        return report.ok

    if not run(command):
        raise typer.Exit(code=1)


@app.command()
def tail(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many events.")] = 20,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the newest events."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            rows = await AuditRepository(session).page(
                AuditFilter(action=action, account_id=account), limit=limit, before_id=None
            )
        events = [AuditEventOut.model_validate(e, from_attributes=True) for e in rows[:limit]]
        if as_json:
            print_json_lines(events)
            return
        columns = ("id", "at", "action", "outcome", "client", "account", "credential", "v")
        print_table(
            console,
            "Audit events (newest first)",
            columns,
            (
                (
                    e.id,
                    e.at.isoformat(timespec="seconds"),
                    e.action,
                    e.outcome,
                    e.client_id or "-",
                    e.account_id or "-",
                    e.credential_id or "-",
                    e.version or "-",
                )
                for e in events
            ),
            id_columns=("client", "credential"),
        )

    run(command)
