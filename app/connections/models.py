"""mPorts' own Walmart App Store apps, and the consent links sent to sellers.

An app's client secret is sealed like every other secret (bound to the app's row and secret
version). A connection link keeps only the SHA-256 of its ``state``: the state itself travels
once, in the consent URL, and comes back once, on the callback.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JsonColumn, UtcDateTime, utcnow


class WalmartApp(Base):
    __tablename__ = "walmart_apps"
    __table_args__ = (
        Index("uq_walmart_apps_environment_client_id", "environment", "client_id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    label: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(String(128))
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    sealed_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    def __repr__(self) -> str:
        # Never the sealed secret: even ciphertext stays out of logs and tracebacks.
        return f"WalmartApp(id={self.id}, environment={self.environment}, label={self.label!r})"


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (Index("ix_connections_account_id_created_at", "account_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[str] = mapped_column(String(64))
    market: Mapped[str] = mapped_column(String(2))
    environment: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    app_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("walmart_apps.id", ondelete="CASCADE")
    )
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    return_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn, nullable=True)
    credential_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set once, by the callback that claims the state: a second callback finds it taken.
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    def __repr__(self) -> str:
        return (
            f"Connection(id={self.id}, account_id={self.account_id!r}, market={self.market}, "
            f"environment={self.environment}, status={self.status})"
        )
