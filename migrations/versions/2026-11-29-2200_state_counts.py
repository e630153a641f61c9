"""State counts kept current by triggers: live credentials by status, data keys by KEK.

A metrics scrape read every credential and every sealed value to count them; with these
triggers it reads a few rows, whatever the number of credentials. PostgreSQL uses statement
triggers with transition tables (one counter update per statement and label, so a bulk COPY
of 500 credentials updates a counter once, and a statement that changes no count writes
nothing); SQLite uses row triggers.

Revision ID: e7e9d0badef9
Revises: 40c92f353a8c
Create Date: 2026-11-29 22:00:00
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import op

revision: str = "e7e9d0badef9"
down_revision: str | None = "40c92f353a8c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@dataclass(frozen=True)
class Counted:
    table: str
    kind: str
    column: str  # what the label is made of
    counted: str  # which rows count, as SQL over {row}
    watched: str  # the columns whose change may change a count

    def pg_label(self, row: str) -> str:
        if self.kind == "credentials":
            return f"{row}.{self.column}"
        # The stored form is v1$<provider>$<key id>$...: the label is "<provider>$<key id>".
        value = f"{row}.{self.column}"
        return f"split_part({value}, '$', 2) || '$' || split_part({value}, '$', 3)"

    def sqlite_label(self, row: str) -> str:
        if self.kind == "credentials":
            return f"{row}.{self.column}"
        rest = f"substr({row}.{self.column}, instr({row}.{self.column}, '$') + 1)"
        second = f"instr(substr({rest}, instr({rest}, '$') + 1), '$')"
        return f"substr({rest}, 1, instr({rest}, '$') + {second} - 1)"

    def where(self, row: str) -> str:
        return self.counted.format(row=row)


COUNTED = (
    Counted(
        "credentials", "credentials", "status", "{row}.deleted_at IS NULL", "status, deleted_at"
    ),
    Counted(
        "credential_versions",
        "data_keys",
        "sealed_secret",
        "{row}.sealed_secret IS NOT NULL",
        "sealed_secret",
    ),
    Counted(
        "oauth_tokens",
        "data_keys",
        "sealed_token",
        "{row}.sealed_token IS NOT NULL",
        "sealed_token",
    ),
)
# The SQL below is built from the constants above only (S608 is about input; there is none).
ADD = "ON CONFLICT (kind, label) DO UPDATE SET count = state_counts.count + excluded.count"


def _pg_deltas(c: Counted, transition: str, sign: int) -> str:
    return (
        f"SELECT {c.pg_label('r')} AS label, {sign} AS delta FROM {transition} AS r "  # noqa: S608
        f"WHERE {c.where('r')}"
    )


def _pg_upsert(c: Counted, *parts: str) -> str:
    # ORDER BY label: concurrent statements lock counter rows in one order, never a deadlock.
    return (
        f"INSERT INTO state_counts (kind, label, count) SELECT '{c.kind}', label, sum(delta) "  # noqa: S608
        f"FROM ({' UNION ALL '.join(parts)}) AS d GROUP BY label HAVING sum(delta) <> 0 "
        f"ORDER BY label {ADD};"
    )


def _postgres(c: Counted) -> list[str]:
    function = f"count_{c.table}"
    inserted, deleted = _pg_deltas(c, "new_rows", 1), _pg_deltas(c, "old_rows", -1)
    return [
        f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_pg_upsert(c, inserted)}
  ELSIF TG_OP = 'UPDATE' THEN
    {_pg_upsert(c, inserted, deleted)}
  ELSE
    {_pg_upsert(c, deleted)}
  END IF;
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER {c.table}_count_insert AFTER INSERT ON {c.table} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {c.table}_count_update AFTER UPDATE ON {c.table} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {c.table}_count_delete AFTER DELETE ON {c.table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def _sqlite_add(c: Counted, row: str, delta: int) -> str:
    # A WHERE on the SELECT keeps SQLite from reading ON CONFLICT as a join's ON.
    return (
        f"INSERT INTO state_counts (kind, label, count) "
        f"SELECT '{c.kind}', {c.sqlite_label(row)}, {delta} WHERE {c.where(row)} {ADD};"
    )


def _sqlite(c: Counted) -> list[str]:
    return [
        f"CREATE TRIGGER {c.table}_count_insert AFTER INSERT ON {c.table} "
        f"BEGIN {_sqlite_add(c, 'NEW', 1)} END",
        f"CREATE TRIGGER {c.table}_count_update AFTER UPDATE OF {c.watched} ON {c.table} "
        f"BEGIN {_sqlite_add(c, 'OLD', -1)} {_sqlite_add(c, 'NEW', 1)} END",
        f"CREATE TRIGGER {c.table}_count_delete AFTER DELETE ON {c.table} "
        f"BEGIN {_sqlite_add(c, 'OLD', -1)} END",
    ]


def _initial(c: Counted, postgres: bool) -> str:
    label = c.pg_label("r") if postgres else c.sqlite_label("r")
    return (
        f"INSERT INTO state_counts (kind, label, count) SELECT '{c.kind}', {label}, count(*) "  # noqa: S608
        f"FROM {c.table} AS r WHERE {c.where('r')} GROUP BY 2 {ADD}"
    )


def upgrade() -> None:
    op.create_table(
        "state_counts",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=560), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "label", name=op.f("pk_state_counts")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for c in COUNTED:
        for statement in _postgres(c) if postgres else _sqlite(c):
            op.execute(statement)
        op.execute(_initial(c, postgres))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for c in COUNTED:
        for operation in ("insert", "update", "delete"):
            on = f" ON {c.table}" if postgres else ""
            op.execute(f"DROP TRIGGER IF EXISTS {c.table}_count_{operation}{on}")
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS count_{c.table}()")
    op.drop_table("state_counts")
