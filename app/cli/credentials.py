"""``vault-admin credentials``: list, show and live-test credentials."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import typer

from app.cli.context import OPERATOR, Context, console, run
from app.cli.credentials_import import import_credentials
from app.cli.output import JsonOption, print_json_lines, print_table
from app.credentials import service
from app.credentials.repository import CredentialFilter
from app.credentials.router import credential_out
from app.pagination import PageRequest
from app.state import app_state

app = typer.Typer(help="Credentials: list, show, test, import.", no_args_is_help=True)
app.command("import")(import_credentials)


@app.command("list")
def list_credentials(
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    status: Annotated[
        str | None, typer.Option(help="untested, valid, invalid or disabled.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List credentials, newest first (never a secret)."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            rows = await service.list_credentials(
                session,
                caller=OPERATOR,
                where=CredentialFilter(account_id=account, status=status),
                page=PageRequest(limit=limit, cursor=None),
            )
        if as_json:
            print_json_lines(credential_out(c) for c in rows[:limit])
            return
        columns = ("id", "account", "market", "env", "kind", "version", "status", "label")
        print_table(
            console,
            "Credentials",
            columns,
            (
                (
                    c.id,
                    c.account_id,
                    c.market,
                    c.environment,
                    c.kind,
                    c.current_version,
                    c.status,
                    c.label,
                )
                for c in rows[:limit]
            ),
        )

    run(command)


@app.command()
def show(credential_id: Annotated[uuid.UUID, typer.Argument()]) -> None:
    """Show one credential as the API returns it."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            credential = await service.get_credential(
                session, caller=OPERATOR, credential_id=credential_id
            )
        console.print_json(credential_out(credential).model_dump_json())

    run(command)


@app.command()
def test(credential_id: Annotated[uuid.UUID, typer.Argument()]) -> None:
    """Test a credential live against Walmart and keep the result; exit 1 if it fails."""

    async def command(context: Context) -> bool:
        async with app_state(context.settings, context.envelope) as state:
            result = await state.tester.check_stored(
                caller=OPERATOR, credential_id=credential_id, trigger="cli"
            )
        console.print_json(json.dumps(result.as_json()))
        return result.ok

    if not run(command):
        raise typer.Exit(code=1)
