"""The database announces every change a cache depends on (PostgreSQL ``NOTIFY`` on commit).

Triggers on ``credentials``, ``credential_versions``, ``oauth_tokens`` and ``api_clients`` send
``NOTIFY vault_credential_changes, '<kind>:<id>'`` for each row changed, so every replica's
change listener hears of a change made by any path: the API, the CLI, a migration, SQL typed
by hand. For ``api_clients`` only the columns callers are cached by count: a last-used stamp
announces nothing. PostgreSQL delivers notifications on commit, once per distinct payload per
transaction. SQLite serves one process, which announces its own commits to itself.

Revision ID: 7c1e4a9b2d30
Revises: 5a1c0e7d9b42
Create Date: 2026-11-29 22:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c1e4a9b2d30"
down_revision: str | None = "5a1c0e7d9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "vault_credential_changes"
CLIENT_COLUMNS = ("token_hash", "revoked_at", "scopes", "account_ids", "name")
# table, kind announced, column naming the id
ALL_CHANGES = (
    ("credentials", "credential", "id"),
    ("credential_versions", "credential", "credential_id"),
    ("oauth_tokens", "credential", "credential_id"),
)

FUNCTION = f"""
CREATE FUNCTION vault_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := to_jsonb(OLD);
    ELSE
        changed := to_jsonb(NEW);
    END IF;
    -- TG_ARGV: the kind announced, the column naming the id
    PERFORM pg_notify('{CHANNEL}', TG_ARGV[0] || ':' || (changed ->> TG_ARGV[1]));
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table, kind, column in ALL_CHANGES:
        op.execute(
            f"CREATE TRIGGER {table}_announce AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION vault_announce_change('{kind}', '{column}')"
        )
    old = ", ".join(f"OLD.{c}" for c in CLIENT_COLUMNS)
    new = ", ".join(f"NEW.{c}" for c in CLIENT_COLUMNS)
    op.execute(
        f"CREATE TRIGGER api_clients_announce AFTER UPDATE OF {', '.join(CLIENT_COLUMNS)} "
        f"ON api_clients FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new})) "
        "EXECUTE FUNCTION vault_announce_change('client', 'id')"
    )
    op.execute(
        "CREATE TRIGGER api_clients_announce_delete AFTER DELETE ON api_clients "
        "FOR EACH ROW EXECUTE FUNCTION vault_announce_change('client', 'id')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, _, _ in ALL_CHANGES:
        op.execute(f"DROP TRIGGER {table}_announce ON {table}")
    op.execute("DROP TRIGGER api_clients_announce ON api_clients")
    op.execute("DROP TRIGGER api_clients_announce_delete ON api_clients")
    op.execute("DROP FUNCTION vault_announce_change()")
