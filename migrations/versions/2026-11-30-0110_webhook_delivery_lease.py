"""Webhook deliveries are leased, not locked, while they are sent.

The dispatcher used to keep its claim's transaction open (rows locked ``FOR UPDATE SKIP
LOCKED``) for the whole outbound HTTP call: a slow receiver held a database connection and
a transaction for up to the send timeout. A claim now sets ``claimed_until`` and commits; the
outcome is settled in a second, short transaction. A replica that dies mid-send leaves a lease
that ends by itself, and the next replica to poll takes the delivery over.

Upgrade every replica together: a replica of an earlier version ignores ``claimed_until``, so
while both kinds run it may send a delivery that a new replica has leased and is sending
(the receiver sees it twice; ``webhook-id`` lets it tell).

Revision ID: 8a4e2b6c1d93
Revises: 5d1c0e7f2a44
Create Date: 2026-11-30 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8a4e2b6c1d93"
down_revision: str | None = "5d1c0e7f2a44"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_deliveries",
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("claimed_until")
