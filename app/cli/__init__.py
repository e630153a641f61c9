"""``vault-admin``: operator commands that talk to the database with the service's settings."""

from app.cli.main import main

__all__ = ["main"]
