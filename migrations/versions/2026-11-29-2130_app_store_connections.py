"""Walmart App Store connections: mPorts' apps, consent links, and app_oauth credentials.

Revision ID: 5d1c0a7e9b42
Revises: b5e69a03e22d
Create Date: 2026-11-29 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "5d1c0a7e9b42"
down_revision: str | None = "b5e69a03e22d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "walmart_apps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("secret_version", sa.Integer(), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_walmart_apps")),
    )
    op.create_index(
        "uq_walmart_apps_environment_client_id",
        "walmart_apps",
        ["environment", "client_id"],
        unique=True,
    )
    op.create_table(
        "connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("market", sa.String(length=2), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("return_url", sa.String(length=2000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", JSON, nullable=True),
        sa.Column("credential_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["walmart_apps.id"],
            name=op.f("fk_connections_app_id_walmart_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_connections_state_hash")),
    )
    op.create_index(
        "ix_connections_account_id_created_at", "connections", ["account_id", "created_at"]
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("app_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("seller_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_credentials_refresh_expires_at", ["refresh_expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_refresh_expires_at")
        batch_op.drop_column("refresh_expires_at")
        batch_op.drop_column("seller_id")
        batch_op.drop_column("app_id")
        batch_op.drop_column("status_reason")
    op.drop_index("ix_connections_account_id_created_at", table_name="connections")
    op.drop_table("connections")
    op.drop_index("uq_walmart_apps_environment_client_id", table_name="walmart_apps")
    op.drop_table("walmart_apps")
