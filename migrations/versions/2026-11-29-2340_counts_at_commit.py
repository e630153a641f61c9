"""PostgreSQL updates the state counts at commit, not at each statement.

The statement triggers of ``state_counts`` and ``count_app_and_webhook_keys`` upserted a
counter row inside the changing transaction and so held that row's lock until commit: every
transaction that changed a credential's status, or sealed a value under the same KEK (a token
refresh, a registration), waited for every other one to commit. Under a hundred status changes
a second, waits passed the statement timeout and the API answered 503.

Here each counted change fires a deferred constraint trigger per row instead: it runs in the
commit itself, so a counter row is locked only while a transaction commits. One row's two
updates (the old label's -1, the new one's +1) are taken in label order, so two commits never
wait on each other in opposite orders. SQLite serves one writer at a time: its row triggers
stay as they are.

Revision ID: 5d1c0e7f2a44
Revises: 3b8f6d2a9c17
Create Date: 2026-11-29 23:40:00
"""

from collections.abc import Sequence
from dataclasses import dataclass

from alembic import op

revision: str = "5d1c0e7f2a44"
down_revision: str | None = "3b8f6d2a9c17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The SQL below is built from the constants above only (S608 is about input; there is none).
ADD = "ON CONFLICT (kind, label) DO UPDATE SET count = state_counts.count + excluded.count"


@dataclass(frozen=True)
class Counted:
    table: str
    column: str
    kind: str  # "credentials" (label: the status) or "data_keys" (label: provider$key_id)
    counted: str  # which rows count, as SQL over {row}
    statement_triggers: str  # the name the earlier migrations gave their triggers and function

    def label(self, row: str) -> str:
        value = f"{row}.{self.column}"
        if self.kind == "credentials":
            return value
        return f"split_part({value}, '$', 2) || '$' || split_part({value}, '$', 3)"

    @property
    def function(self) -> str:
        return f"count_row_{self.table}_{self.column}"

    @property
    def watched(self) -> str:
        return "status, deleted_at" if self.kind == "credentials" else self.column


def _sealed(table: str, column: str, old_name: str) -> Counted:
    return Counted(table, column, "data_keys", f"{{row}}.{column} IS NOT NULL", old_name)


COUNTED = (
    Counted("credentials", "status", "credentials", "{row}.deleted_at IS NULL", "credentials"),
    _sealed("credential_versions", "sealed_secret", "credential_versions"),
    _sealed("oauth_tokens", "sealed_token", "oauth_tokens"),
    _sealed("walmart_apps", "sealed_secret", "walmart_apps_sealed_secret"),
    _sealed("webhook_endpoints", "sealed_secret", "webhook_endpoints_sealed_secret"),
    _sealed(
        "webhook_endpoints", "sealed_previous_secret", "webhook_endpoints_sealed_previous_secret"
    ),
)


def _add(c: Counted, label: str, delta: str) -> str:
    values = f"VALUES ('{c.kind}', {label}, {delta})"
    return f"INSERT INTO state_counts (kind, label, count) {values} {ADD};"


def _row_function(c: Counted) -> str:
    old_counts = c.counted.format(row="OLD")
    new_counts = c.counted.format(row="NEW")
    return f"""CREATE FUNCTION {c.function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_label text;
  new_label text;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    IF {old_counts} THEN old_label := {c.label("OLD")}; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF {new_counts} THEN new_label := {c.label("NEW")}; END IF;
  END IF;
  IF old_label IS NOT DISTINCT FROM new_label THEN
    RETURN NULL;
  END IF;
  IF old_label IS NOT NULL AND (new_label IS NULL OR old_label < new_label) THEN
    {_add(c, "old_label", "-1")}
    IF new_label IS NOT NULL THEN {_add(c, "new_label", "1")} END IF;
  ELSE
    {_add(c, "new_label", "1")}
    IF old_label IS NOT NULL THEN {_add(c, "old_label", "-1")} END IF;
  END IF;
  RETURN NULL;
END $$"""


def _drop_statement_triggers(c: Counted) -> None:
    for operation in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER {c.statement_triggers}_count_{operation} ON {c.table}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for c in COUNTED:
        _drop_statement_triggers(c)
        op.execute(_row_function(c))
        events = f"INSERT OR UPDATE OF {c.watched} OR DELETE"
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {c.table}_{c.column}_count_at_commit "
            f"AFTER {events} ON {c.table} DEFERRABLE INITIALLY DEFERRED "
            f"FOR EACH ROW EXECUTE FUNCTION {c.function}()"
        )
    for c in {c.statement_triggers: c for c in COUNTED}.values():
        op.execute(f"DROP FUNCTION count_{c.statement_triggers}()")


def _statement_triggers(c: Counted) -> list[str]:
    """The triggers this migration replaced (as ``state_counts`` made them), for a downgrade."""

    def deltas(transition: str, sign: int) -> str:
        where = c.counted.format(row="r")
        rows = f"FROM {transition} AS r WHERE {where}"
        return f"SELECT {c.label('r')} AS label, {sign} AS delta {rows}"

    def upsert(*parts: str) -> str:
        return (
            f"INSERT INTO state_counts (kind, label, count) SELECT '{c.kind}', label, sum(delta) "  # noqa: S608
            f"FROM ({' UNION ALL '.join(parts)}) AS d GROUP BY label HAVING sum(delta) <> 0 "
            f"ORDER BY label {ADD};"
        )

    name, new, old = c.statement_triggers, deltas("new_rows", 1), deltas("old_rows", -1)
    return [
        f"""CREATE FUNCTION count_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {upsert(new)}
  ELSIF TG_OP = 'UPDATE' THEN {upsert(new, old)}
  ELSE {upsert(old)}
  END IF;
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER {name}_count_insert AFTER INSERT ON {c.table} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_{name}()",
        f"CREATE TRIGGER {name}_count_update AFTER UPDATE ON {c.table} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION count_{name}()",
        f"CREATE TRIGGER {name}_count_delete AFTER DELETE ON {c.table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_{name}()",
    ]


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for c in COUNTED:
        op.execute(f"DROP TRIGGER {c.table}_{c.column}_count_at_commit ON {c.table}")
        op.execute(f"DROP FUNCTION {c.function}()")
        for statement in _statement_triggers(c):
            op.execute(statement)
