"""``vault-admin clients``: API clients (the callers of the vault)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import typer

from app.auth import ALL_SCOPES
from app.cli.context import OPERATOR, Context, console, run
from app.cli.output import JsonOption, plain, print_json_lines, print_table
from app.cli.paging import every_row
from app.clients import service
from app.clients.schemas import ClientOut
from app.db import transaction

app = typer.Typer(help="API clients: create, list, revoke.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Who will use the token, e.g. order-sync.")],
    scope: Annotated[
        list[str], typer.Option(help=f"Repeat for each scope: {', '.join(ALL_SCOPES)}.")
    ],
    account: Annotated[
        list[str] | None, typer.Option(help="Limit to these account ids (repeatable).")
    ] = None,
) -> None:
    """Create a client and print its token (shown this once)."""
    unknown = sorted(set(scope) - set(ALL_SCOPES))
    if unknown:
        raise typer.BadParameter(f"unknown scope(s): {', '.join(unknown)}", param_hint="--scope")

    async def command(context: Context) -> None:
        async with transaction(context.sessionmaker) as session:
            client, token = await service.create_client(
                session, caller=None, name=name, scopes=scope, account_ids=account or None
            )
        console.print(
            f"client {client.id} (",
            plain(client.name),
            f") scopes={','.join(client.scopes)}",
            sep="",
        )
        console.print(f"token (shown once): {token}", soft_wrap=True)

    run(command)


@app.command("list")
def list_clients(as_json: JsonOption = False) -> None:
    """List clients (never their tokens)."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            rows = await every_row(lambda page: service.list_clients(session, page=page))
        clients = [ClientOut.model_validate(c, from_attributes=True) for c in rows]
        if as_json:
            print_json_lines(clients)
            return
        columns = ("id", "name", "scopes", "accounts", "created", "revoked", "last used")
        print_table(
            console,
            "API clients",
            columns,
            (
                (
                    c.id,
                    c.name,
                    ",".join(c.scopes),
                    ",".join(c.account_ids) if c.account_ids else "all",
                    _moment(c.created_at),
                    _moment(c.revoked_at),
                    _moment(c.last_used_at),
                )
                for c in clients
            ),
        )

    run(command)


def _moment(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else ""


@app.command()
def revoke(client_id: Annotated[uuid.UUID, typer.Argument(help="The client's id.")]) -> None:
    """Revoke a client; its token is refused from the next request on."""

    async def command(context: Context) -> None:
        async with transaction(context.sessionmaker) as session:
            await service.revoke_client(session, caller=OPERATOR, client_id=client_id)
        console.print(f"revoked {client_id}")

    run(command)
