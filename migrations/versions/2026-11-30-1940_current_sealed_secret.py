"""The credential row carries its current version's sealed secret, kept in step by triggers.

A header request for a seller no worker holds reads that seller from the database. It looked
the credential up, then its current version, by primary key each; with the sealed secret on
the credential row it is one lookup (README "Performance" gives what that saved). The copy is
ciphertext like the original. The vault writes it only when it creates a credential (the bulk
import included: the triggers then find it equal and write nothing). Triggers keep it in step
otherwise: a version inserted, updated (any column: a promotion's change of state included)
or deleted while it is the credential's current one, and ``current_version`` moved (the
version read ``FOR SHARE``, so a concurrent, uncommitted change to it is waited for, not
copied stale). A rotation's promotion, a KEK rewrap, a deletion that destroys the secrets, a
rotated refresh token and SQL typed by hand are all covered.

Revision ID: 3f6b9d2e8c71
Revises: 8a4e2b6c1d93
Create Date: 2026-11-30 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f6b9d2e8c71"
down_revision: str | None = "8a4e2b6c1d93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A version's sealed secret onto its credential, when it is the credential's current version.
FROM_VERSION = (
    "UPDATE credentials SET current_sealed_secret = NEW.sealed_secret"
    " WHERE id = NEW.credential_id AND current_version = NEW.version"
    " AND current_sealed_secret IS DISTINCT FROM NEW.sealed_secret;"
)
SQLITE_FROM_VERSION = FROM_VERSION.replace("IS DISTINCT FROM", "IS NOT")
# The current version's row deleted (by hand: the vault keeps versions): no copy without it.
GONE = (
    "UPDATE credentials SET current_sealed_secret = NULL"
    " WHERE id = OLD.credential_id AND current_version = OLD.version"
    " AND current_sealed_secret IS NOT NULL;"
)

POSTGRES = [
    "CREATE FUNCTION vault_current_secret_from_version() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN IF TG_OP = 'DELETE' THEN " + GONE + " ELSE " + FROM_VERSION + " END IF;"
    " RETURN NULL; END $$",
    "CREATE TRIGGER credential_versions_current_secret"
    " AFTER INSERT OR UPDATE OR DELETE ON credential_versions"
    " FOR EACH ROW EXECUTE FUNCTION vault_current_secret_from_version()",
    "CREATE FUNCTION vault_current_secret_of_credential() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN NEW.current_sealed_secret := (SELECT sealed_secret FROM credential_versions"
    " WHERE credential_id = NEW.id AND version = NEW.current_version FOR SHARE);"
    " RETURN NEW; END $$",
    "CREATE TRIGGER credentials_current_secret"
    " BEFORE UPDATE OF current_version ON credentials FOR EACH ROW"
    " WHEN (NEW.current_version IS DISTINCT FROM OLD.current_version)"
    " EXECUTE FUNCTION vault_current_secret_of_credential()",
]
SQLITE = [
    "CREATE TRIGGER credential_versions_current_secret_insert"
    " AFTER INSERT ON credential_versions BEGIN " + SQLITE_FROM_VERSION + " END",
    "CREATE TRIGGER credential_versions_current_secret_update"
    " AFTER UPDATE ON credential_versions BEGIN " + SQLITE_FROM_VERSION + " END",
    "CREATE TRIGGER credential_versions_current_secret_delete"
    " AFTER DELETE ON credential_versions BEGIN " + GONE + " END",
    "CREATE TRIGGER credentials_current_secret AFTER UPDATE OF current_version ON credentials"
    " WHEN NEW.current_version IS NOT OLD.current_version BEGIN"
    " UPDATE credentials SET current_sealed_secret = (SELECT sealed_secret"
    " FROM credential_versions WHERE credential_id = NEW.id AND version = NEW.current_version)"
    " WHERE id = NEW.id; END",
]
BACKFILL = (
    "UPDATE credentials SET current_sealed_secret = (SELECT sealed_secret"
    " FROM credential_versions WHERE credential_id = credentials.id"
    " AND version = credentials.current_version)"
)


def upgrade() -> None:
    op.add_column("credentials", sa.Column("current_sealed_secret", sa.Text(), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES if postgres else SQLITE:
        op.execute(statement)
    op.execute(BACKFILL)  # after the triggers: a write meanwhile is caught by one or the other


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER credentials_current_secret ON credentials")
        op.execute("DROP TRIGGER credential_versions_current_secret ON credential_versions")
        op.execute("DROP FUNCTION vault_current_secret_of_credential()")
        op.execute("DROP FUNCTION vault_current_secret_from_version()")
    else:
        for trigger in (
            "credentials_current_secret",
            "credential_versions_current_secret_insert",
            "credential_versions_current_secret_update",
            "credential_versions_current_secret_delete",
        ):
            op.execute(f"DROP TRIGGER {trigger}")
    op.drop_column("credentials", "current_sealed_secret")  # SQLite 3.35+: in place
