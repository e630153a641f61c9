"""Data keys by KEK also count App Store app secrets and webhook signing secrets.

Migration ``state_counts`` counted only credential versions and cached tokens, so
``data_keys_on_old_keks`` could read 0 while app and webhook secrets were still on the old
KEK, and removing that KEK then broke every webhook signature and App Store token call. Same
mechanism: PostgreSQL statement triggers with transition tables, SQLite row triggers; each
(table, column) gets its own triggers, since ``webhook_endpoints`` holds two sealed columns.
The counts start from what is stored now.

Revision ID: 3b8f6d2a9c17
Revises: e239c451c281
Create Date: 2026-11-29 23:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3b8f6d2a9c17"
down_revision: str | None = "e239c451c281"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, sealed column): the columns app.sealed lists that state_counts did not count yet.
COUNTED = (
    ("walmart_apps", "sealed_secret"),
    ("webhook_endpoints", "sealed_secret"),
    ("webhook_endpoints", "sealed_previous_secret"),
)
# The SQL below is built from the constants above only (S608 is about input; there is none).
ADD = "ON CONFLICT (kind, label) DO UPDATE SET count = state_counts.count + excluded.count"


def _pg_label(row: str, column: str) -> str:
    # The stored form is v1$<provider>$<key id>$...: the label is "<provider>$<key id>".
    value = f"{row}.{column}"
    return f"split_part({value}, '$', 2) || '$' || split_part({value}, '$', 3)"


def _sqlite_label(row: str, column: str) -> str:
    rest = f"substr({row}.{column}, instr({row}.{column}, '$') + 1)"
    second = f"instr(substr({rest}, instr({rest}, '$') + 1), '$')"
    return f"substr({rest}, 1, instr({rest}, '$') + {second} - 1)"


def _pg_deltas(column: str, transition: str, sign: int) -> str:
    return (
        f"SELECT {_pg_label('r', column)} AS label, {sign} AS delta "  # noqa: S608
        f"FROM {transition} AS r WHERE r.{column} IS NOT NULL"
    )


def _pg_upsert(*parts: str) -> str:
    # ORDER BY label: concurrent statements lock counter rows in one order, never a deadlock.
    return (
        "INSERT INTO state_counts (kind, label, count) SELECT 'data_keys', label, sum(delta) "  # noqa: S608
        f"FROM ({' UNION ALL '.join(parts)}) AS d GROUP BY label HAVING sum(delta) <> 0 "
        f"ORDER BY label {ADD};"
    )


def _postgres(table: str, column: str) -> list[str]:
    name = f"{table}_{column}"
    inserted = _pg_deltas(column, "new_rows", 1)
    deleted = _pg_deltas(column, "old_rows", -1)
    return [
        f"""CREATE FUNCTION count_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_pg_upsert(inserted)}
  ELSIF TG_OP = 'UPDATE' THEN
    {_pg_upsert(inserted, deleted)}
  ELSE
    {_pg_upsert(deleted)}
  END IF;
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER {name}_count_insert AFTER INSERT ON {table} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_{name}()",
        f"CREATE TRIGGER {name}_count_update AFTER UPDATE ON {table} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION count_{name}()",
        f"CREATE TRIGGER {name}_count_delete AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_{name}()",
    ]


def _sqlite_add(column: str, row: str, delta: int) -> str:
    # A WHERE on the SELECT keeps SQLite from reading ON CONFLICT as a join's ON.
    return (
        "INSERT INTO state_counts (kind, label, count) "
        f"SELECT 'data_keys', {_sqlite_label(row, column)}, {delta} "
        f"WHERE {row}.{column} IS NOT NULL {ADD};"
    )


def _sqlite(table: str, column: str) -> list[str]:
    name = f"{table}_{column}"
    return [
        f"CREATE TRIGGER {name}_count_insert AFTER INSERT ON {table} "
        f"BEGIN {_sqlite_add(column, 'NEW', 1)} END",
        f"CREATE TRIGGER {name}_count_update AFTER UPDATE OF {column} ON {table} "
        f"BEGIN {_sqlite_add(column, 'OLD', -1)} {_sqlite_add(column, 'NEW', 1)} END",
        f"CREATE TRIGGER {name}_count_delete AFTER DELETE ON {table} "
        f"BEGIN {_sqlite_add(column, 'OLD', -1)} END",
    ]


def _stored(table: str, column: str, postgres: bool, sign: int) -> str:
    label = _pg_label("r", column) if postgres else _sqlite_label("r", column)
    return (
        f"INSERT INTO state_counts (kind, label, count) "  # noqa: S608
        f"SELECT 'data_keys', {label}, {sign} * count(*) "
        f"FROM {table} AS r WHERE r.{column} IS NOT NULL GROUP BY 2 {ADD}"
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, column in COUNTED:
        for statement in _postgres(table, column) if postgres else _sqlite(table, column):
            op.execute(statement)
        op.execute(_stored(table, column, postgres, 1))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, column in COUNTED:
        name = f"{table}_{column}"
        for operation in ("insert", "update", "delete"):
            on = f" ON {table}" if postgres else ""
            op.execute(f"DROP TRIGGER IF EXISTS {name}_count_{operation}{on}")
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS count_{name}()")
        op.execute(_stored(table, column, postgres, -1))
