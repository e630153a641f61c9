"""Hand-over links: one-time links at which sellers submit their own keys (token stored hashed).

Revision ID: 40c92f353a8c
Revises: 3fe5e5bd2a69
Create Date: 2026-11-29 21:13:14.912202
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "40c92f353a8c"
down_revision: str | None = "3fe5e5bd2a69"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("market", sa.String(length=2), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("busy_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_credential_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_intake_links_credential_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_intake_links_token_hash")),
    )
    with op.batch_alter_table("intake_links", schema=None) as batch_op:
        batch_op.create_index("ix_intake_links_created_at_id", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("intake_links", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_links_created_at_id")
    op.drop_table("intake_links")
