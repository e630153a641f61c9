"""``vault-admin clients``: API clients (the callers of the vault)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.table import Table

from app.cli.context import OPERATOR, Context, console, run
from app.clients import service
from app.clients.scopes import ALL_SCOPES
from app.db import transaction
from app.pagination import PageRequest

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
        console.print(f"client {client.id} ({client.name}) scopes={','.join(client.scopes)}")
        console.print(f"token (shown once): {token}", soft_wrap=True)

    run(command)


@app.command("list")
def list_clients() -> None:
    """List clients (never their tokens)."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            rows = await service.list_clients(session, page=PageRequest(limit=200, cursor=None))
        table = Table(title="API clients")
        for column in ("id", "name", "scopes", "accounts", "created", "revoked", "last used"):
            table.add_column(column)
        for c in rows[:200]:
            table.add_row(
                str(c.id),
                c.name,
                ",".join(c.scopes),
                ",".join(c.account_ids) if c.account_ids else "all",
                c.created_at.isoformat(timespec="seconds"),
                c.revoked_at.isoformat(timespec="seconds") if c.revoked_at else "",
                c.last_used_at.isoformat(timespec="seconds") if c.last_used_at else "",
            )
        console.print(table)

    run(command)


@app.command()
def revoke(client_id: Annotated[uuid.UUID, typer.Argument(help="The client's id.")]) -> None:
    """Revoke a client; its token is refused from the next request on."""

    async def command(context: Context) -> None:
        async with transaction(context.sessionmaker) as session:
            await service.revoke_client(session, caller=OPERATOR, client_id=client_id)
        console.print(f"revoked {client_id}")

    run(command)
