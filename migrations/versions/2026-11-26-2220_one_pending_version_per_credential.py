"""At most one pending version per credential: concurrent rotations collide in the database.

Revision ID: b5e69a03e22d
Revises: 421f2bf81a56
Create Date: 2026-11-26 22:20:38.401142
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b5e69a03e22d"
down_revision: str | None = "421f2bf81a56"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credential_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_credential_versions_one_pending",
            ["credential_id"],
            unique=True,
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("credential_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_credential_versions_one_pending",
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )
