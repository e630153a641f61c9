"""The bootstrap client marked by a column (not found by name); KEK wrap counts.

Revision ID: 5a1c0e7d9b42
Revises: e7e9d0badef9
Create Date: 2026-11-29 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a1c0e7d9b42"
down_revision: str | None = "e7e9d0badef9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_BOOTSTRAP = "is_bootstrap AND revoked_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(
            sa.Column("is_bootstrap", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # The client the vault created for VAULT_BOOTSTRAP_TOKEN is the oldest live one of that
    # name: others of the same name were made later, by an admin.
    op.execute(
        "UPDATE api_clients SET is_bootstrap = true WHERE id = ("
        "SELECT id FROM api_clients WHERE name = 'bootstrap' AND revoked_at IS NULL "
        "ORDER BY created_at LIMIT 1)"
    )
    op.create_index(
        "uq_api_clients_live_bootstrap",
        "api_clients",
        ["is_bootstrap"],
        unique=True,
        sqlite_where=sa.text(LIVE_BOOTSTRAP),
        postgresql_where=sa.text(LIVE_BOOTSTRAP),
    )
    op.create_table(
        "kek_wraps",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=256), nullable=False),
        sa.Column("wraps", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "key_id"),
    )


def downgrade() -> None:
    op.drop_table("kek_wraps")
    op.drop_index("uq_api_clients_live_bootstrap", table_name="api_clients")
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("is_bootstrap")
