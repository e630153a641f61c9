"""Hand-over links: one-time links at which a seller submits their own Walmart keys.

The link's token is in the URL the operator sends the seller; the database keeps only its
SHA-256 (``token_hash``), like callers' tokens. A link works until it succeeds once, expires,
is revoked, or has failed ``MAX_FAILURES`` times; ``busy_until`` is the lease of a submission
in progress, so two browsers cannot hand over through one link at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow

MAX_FAILURES = 5
LinkState = Literal["active", "used", "expired", "revoked", "failed"]


class IntakeLink(Base):
    __tablename__ = "intake_links"
    __table_args__ = (Index("ix_intake_links_created_at_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(String(64))
    market: Mapped[str] = mapped_column(String(2))
    environment: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    # Set: the link rotates this credential. Unset: it registers a new one.
    credential_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("credentials.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    busy_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The credential the successful submission registered or rotated.
    result_credential_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)

    def state(self, now: datetime) -> LinkState:
        """Why the link does or does not work any more (the first reason that applies)."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.failures >= MAX_FAILURES:
            return "failed"
        if self.expires_at <= now:
            return "expired"
        return "active"

    def __repr__(self) -> str:
        # Never the token hash: it is the lookup key of a live link.
        return (
            f"IntakeLink(id={self.id}, account_id={self.account_id!r}, market={self.market}, "
            f"environment={self.environment}, kind={self.kind})"
        )
