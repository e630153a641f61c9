"""``vault-admin intake``: hand-over links at which sellers submit their own keys."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from app.cli.bodies import valid_body
from app.cli.context import OPERATOR, Context, console, run
from app.cli.output import JsonOption, print_json_lines, print_table
from app.db import transaction
from app.intake import service
from app.intake.router import link_out
from app.intake.schemas import DEFAULT_HOURS, MAX_HOURS, IntakeLinkCreate
from app.pagination import PageRequest

app = typer.Typer(help="Hand-over links: create, list, revoke.", no_args_is_help=True)


@app.command()
def create(
    account: Annotated[str, typer.Option(help="The seller's account id.")],
    market: Annotated[str, typer.Option(help="US, CA, MX or CL.")],
    label: Annotated[str, typer.Option(help="The credential's label, shown to the seller.")],
    kind: Annotated[
        str, typer.Option(help="signature (Consumer ID + Private Key) or oauth.")
    ] = "signature",
    environment: Annotated[str, typer.Option(help="production or sandbox.")] = "production",
    credential: Annotated[
        uuid.UUID | None, typer.Option(help="Rotate this credential (after Regenerate Key).")
    ] = None,
    hours: Annotated[
        int, typer.Option(min=1, max=MAX_HOURS, help="Hours until the link expires.")
    ] = DEFAULT_HOURS,
) -> None:
    """Create a link and print its URL (shown this once): send it to the seller."""
    body = valid_body(
        IntakeLinkCreate,
        {
            "account_id": account,
            "market": market,
            "environment": environment,
            "kind": kind,
            "label": label,
            "credential_id": credential,
            "expires_in_hours": hours,
        },
    )

    async def command(context: Context) -> None:
        async with transaction(context.sessionmaker) as session:
            link, url = await service.create_link(
                session,
                caller=OPERATOR,
                body=body,
                public_url=context.settings.public_base_url(),
            )
        console.print(f"link {link.id} expires {link.expires_at.isoformat(timespec='seconds')}")
        console.print(f"url (shown once): {url}", soft_wrap=True, markup=False)

    run(command)


@app.command("list")
def list_links(
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List links, newest first, with their state (never their URLs)."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            rows = await service.list_links(
                session,
                caller=OPERATOR,
                account_id=account,
                page=PageRequest(limit=limit, cursor=None),
            )
        links = [link_out(link) for link in rows[:limit]]
        if as_json:
            print_json_lines(links)
            return
        columns = ("id", "account", "market", "env", "kind", "purpose", "state", "expires", "label")
        print_table(
            console,
            "Hand-over links",
            columns,
            (
                (
                    link.id,
                    link.account_id,
                    link.market,
                    link.environment,
                    link.kind,
                    "rotate" if link.credential_id else "register",
                    link.state,
                    link.expires_at.isoformat(timespec="minutes"),
                    link.label,
                )
                for link in links
            ),
        )

    run(command)


@app.command()
def revoke(link_id: Annotated[uuid.UUID, typer.Argument(help="The link's id.")]) -> None:
    """Revoke a link that still works; the seller's form stops at once."""

    async def command(context: Context) -> None:
        async with transaction(context.sessionmaker) as session:
            await service.revoke_link(session, caller=OPERATOR, link_id=link_id)
        console.print(f"revoked {link_id}")

    run(command)
