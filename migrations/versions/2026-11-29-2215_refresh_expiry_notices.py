"""Refresh expiry notices: each refresh_token.expiring webhook goes out once per threshold.

Revision ID: e239c451c281
Revises: 7c1e4a9b2d30
Create Date: 2026-11-29 21:32:10.839636
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e239c451c281"
down_revision: str | None = "7c1e4a9b2d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refresh_expiry_notices",
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_refresh_expiry_notices_credential_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "credential_id", "expires_at", "days", name=op.f("pk_refresh_expiry_notices")
        ),
    )


def downgrade() -> None:
    op.drop_table("refresh_expiry_notices")
