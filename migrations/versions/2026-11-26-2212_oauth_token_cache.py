"""The shared, sealed cache of Walmart access tokens (one row per OAuth credential).

Revision ID: 421f2bf81a56
Revises: c787a4088b23
Create Date: 2026-11-26 22:12:02.029115
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "421f2bf81a56"
down_revision: str | None = "c787a4088b23"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_tokens",
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sealed_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_oauth_tokens_credential_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_oauth_tokens")),
    )


def downgrade() -> None:
    op.drop_table("oauth_tokens")
