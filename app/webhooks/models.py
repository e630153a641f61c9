"""Webhook endpoints, the event outbox, and one delivery per (event, endpoint).

An event is written to ``webhook_events`` in the transaction of the change that caused it, and
fanned out there and then into ``webhook_deliveries``, one row per subscribed endpoint: the
commit that makes the change visible also makes its deliveries durable. ``seq`` orders events;
a delivery waits while an earlier one with the same ``ordering_key`` (the credential) to the
same endpoint is still pending, so a receiver sees a credential's events in order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JsonColumn, UtcDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
SequenceInt = BigInteger().with_variant(Integer(), "sqlite")


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JsonColumn)
    description: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The signing secret, sealed by the envelope and bound to (endpoint, secret_version).
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    sealed_secret: Mapped[str] = mapped_column(Text)
    # After a rotation the previous secret signs too, until ``previous_secret_until``.
    sealed_previous_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Set by the first failed attempt after a success; an endpoint failing for longer than
    # VAULT_WEBHOOK_DISABLE_AFTER_SECONDS is disabled.
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"WebhookEndpoint(id={self.id}, enabled={self.enabled})"


class WebhookEvent(Base):
    __tablename__ = "webhook_events"

    seq: Mapped[int] = mapped_column(SequenceInt, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)  # the webhook-id, "msg_..."
    type: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"WebhookEvent(id={self.id}, type={self.type})"


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # What the dispatcher scans: pending deliveries by due time.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        # The ordering check: an earlier pending delivery of the same key to the same endpoint.
        Index(
            "ix_webhook_deliveries_order",
            "endpoint_id",
            "ordering_key",
            "event_seq",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index("uq_webhook_deliveries_endpoint_seq", "endpoint_id", "event_seq", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_seq: Mapped[int] = mapped_column(
        SequenceInt, ForeignKey("webhook_events.seq", ondelete="CASCADE")
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    ordering_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # succeeded, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set by the replica sending it: no other claims it before then, and the sender settles
    # its outcome only while the lease is still its own.
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The last attempts, newest last: {at, status_code, latency_ms, error}; never a body.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JsonColumn, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"WebhookDelivery(id={self.id}, state={self.state}, attempts={self.attempts})"
