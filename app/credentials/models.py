"""Credentials and their versions.

A credential is the public half of a seller's key set for one (account, market, environment);
its secrets live in ``credential_versions.sealed_secret`` as envelope-encrypted text (and the
current one's copy in ``credentials.current_sealed_secret``, kept by triggers).
A deleted credential stays as a tombstone (``deleted_at``) for the audit trail, with every
version's sealed secret removed, so the partial unique index only counts live rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JsonColumn, UtcDateTime, utcnow


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (
        Index(
            "uq_credentials_live_account_market_environment",
            "account_id",
            "market",
            "environment",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_credentials_created_at_id", "created_at", "id"),
        Index("ix_credentials_refresh_expires_at", "refresh_expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[str] = mapped_column(String(64))
    market: Mapped[str] = mapped_column(String(2))
    environment: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    public_id: Mapped[str] = mapped_column(String(128))
    channel_type: Mapped[str | None] = mapped_column(String(128), nullable=True)
    current_version: Mapped[int] = mapped_column(Integer)
    # The current version's fingerprint, kept here so reads need no join.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    last_test: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Why the status is what it is, when a status alone does not say what to do
    # (``reconnect_required``: Walmart refused an App Store connection's refresh token).
    status_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # App Store connections (kind ``app_oauth``): mPorts' app, the seller that authorized it,
    # and when the sealed refresh token stops working.
    app_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    seller_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    # The current version's sealed secret, so a cache miss reads one row: the database's
    # triggers keep it in step with ``credential_versions`` (migration "current sealed
    # secret"); the vault only ever writes it when it creates the credential. Not loaded
    # with the row: only the snapshot read wants it.
    current_sealed_secret: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012

    def __repr__(self) -> str:
        return (
            f"Credential(id={self.id}, account_id={self.account_id!r}, market={self.market}, "
            f"environment={self.environment}, kind={self.kind}, version={self.current_version})"
        )


class CredentialVersion(Base):
    __tablename__ = "credential_versions"
    __table_args__ = (
        Index(
            "uq_credential_versions_one_current",
            "credential_id",
            unique=True,
            sqlite_where=text("state = 'current'"),
            postgresql_where=text("state = 'current'"),
        ),
        Index(
            "uq_credential_versions_one_pending",
            "credential_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    credential_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("credentials.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    sealed_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    test: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn, nullable=True)

    def __repr__(self) -> str:
        # Never the sealed secret: even ciphertext stays out of logs and tracebacks.
        return (
            f"CredentialVersion(credential_id={self.credential_id}, version={self.version}, "
            f"state={self.state})"
        )


class RefreshExpiryNotice(Base):
    """That ``refresh_token.expiring`` went out for this credential, this expiry and this
    threshold: the primary key makes each notice once only, across replicas. A reconnection
    brings a new expiry, and with it new notices."""

    __tablename__ = "refresh_expiry_notices"

    credential_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("credentials.id", ondelete="CASCADE"), primary_key=True
    )
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
