"""``vault-admin connections``: App Store connection links (list, create) and mPorts' apps."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from app.cli.bodies import valid_body
from app.cli.context import OPERATOR, Context, console, run
from app.cli.output import JsonOption, print_json_lines, print_table
from app.cli.paging import every_row
from app.connections import apps, service
from app.connections.router import connection_out
from app.connections.schemas import ConnectionCreate, WalmartAppCreate
from app.credentials import service as credentials
from app.credentials.repository import CredentialFilter
from app.credentials.router import credential_out
from app.db import transaction
from app.pagination import PageRequest

app = typer.Typer(
    help="Walmart App Store connections: apps, links, expiring refresh tokens.",
    no_args_is_help=True,
)


@app.command("list")
def list_connections(
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List connection links, newest first (never a consent URL)."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            rows = await service.list_connections(
                session,
                caller=OPERATOR,
                account_id=account,
                page=PageRequest(limit=limit, cursor=None),
            )
        if as_json:
            print_json_lines(connection_out(c) for c in rows[:limit])
            return
        columns = ("id", "account", "market", "env", "status", "credential", "expires")
        print_table(
            console,
            "Connections",
            columns,
            (
                (
                    c.id,
                    c.account_id,
                    c.market,
                    c.environment,
                    service.shown_status(c),
                    c.credential_id or "",
                    c.expires_at.isoformat(timespec="seconds"),
                )
                for c in rows[:limit]
            ),
            id_columns=("id", "credential"),
        )

    run(command)


@app.command()
def create(
    account: Annotated[str, typer.Option(help="The seller's account id in mPorts.")],
    label: Annotated[str, typer.Option(help="A label for the credential it will make.")],
    market: Annotated[str, typer.Option(help="US, CA or MX.")] = "US",
    environment: Annotated[str, typer.Option(help="production or sandbox.")] = "production",
) -> None:
    """Create a connection link and print its consent URL (send it to the seller)."""

    body = valid_body(
        ConnectionCreate,
        {
            "account_id": account,
            "market": market.upper(),
            "environment": environment,
            "label": label,
        },
    )

    async def command(context: Context) -> str:
        async with transaction(context.sessionmaker) as session:
            connection, consent_url = await service.create_connection(
                session, context.settings, caller=OPERATOR, body=body
            )
        console.print(
            f"connection {connection.id}, expires {connection.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        return consent_url

    # The URL alone on stdout, unwrapped, so a script can take it.
    sys.stdout.write(run(command) + "\n")


@app.command("add-app")
def add_app(
    client_id: Annotated[str, typer.Option(help="The app's Client ID from Walmart.")],
    label: Annotated[str, typer.Option()] = "mPorts",
    environment: Annotated[str, typer.Option(help="production or sandbox.")] = "production",
) -> None:
    """Register mPorts' App Store app; the client secret is read from stdin, never an option."""
    secret = sys.stdin.readline().strip()

    body = valid_body(
        WalmartAppCreate,
        {
            "label": label,
            "environment": environment,
            "client_id": client_id,
            "client_secret": secret,
        },
    )

    async def command(context: Context) -> None:
        async with transaction(context.sessionmaker) as session:
            created = await apps.create_app(
                session, context.envelope, context.settings, caller=OPERATOR, body=body
            )
        console.print(f"app {created.id}; register this Auth Callback URL with Walmart:")
        console.print(apps.redirect_uri(context.settings), soft_wrap=True)

    run(command)


@app.command()
def expiring(
    days: Annotated[
        int, typer.Option(min=1, help="Refresh tokens ending within this many days.")
    ] = 30,
    as_json: JsonOption = False,
) -> None:
    """App Store credentials whose refresh token ends soon: ask those sellers to reconnect."""
    before = datetime.now(UTC) + timedelta(days=days)

    async def command(context: Context) -> None:
        where = CredentialFilter(refresh_expires_before=before)
        async with context.sessionmaker() as session:
            rows = await every_row(
                lambda page: credentials.list_credentials(
                    session, caller=OPERATOR, where=where, page=page
                )
            )
        if as_json:
            print_json_lines(credential_out(c) for c in rows)
            return
        columns = ("credential", "account", "market", "env", "refresh expires")
        print_table(
            console,
            f"Refresh tokens ending before {before:%Y-%m-%d}: {len(rows)}",
            columns,
            (
                (
                    c.id,
                    c.account_id,
                    c.market,
                    c.environment,
                    c.refresh_expires_at.isoformat(timespec="seconds")
                    if c.refresh_expires_at
                    else "",
                )
                for c in rows
            ),
            id_columns=("credential",),
        )

    run(command)
