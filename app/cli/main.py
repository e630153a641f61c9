"""The ``vault-admin`` command tree."""

from __future__ import annotations

import typer

from app.cli import audit, clients, connections, credentials, intake, kek, webhooks

cli = typer.Typer(
    help="Operate the mPorts Walmart credential vault (uses the service's VAULT_ settings).",
    no_args_is_help=True,
    # Stated, not left to the default (older Typer showed locals): a frame may hold a secret
    # argument, such as an app's client secret.
    pretty_exceptions_show_locals=False,
)
cli.add_typer(clients.app, name="clients")
cli.add_typer(credentials.app, name="credentials")
cli.add_typer(kek.app, name="kek")
cli.add_typer(audit.app, name="audit")
cli.add_typer(intake.app, name="intake")
cli.add_typer(connections.app, name="connections")
cli.add_typer(webhooks.app, name="webhooks")


def main() -> None:
    cli()
