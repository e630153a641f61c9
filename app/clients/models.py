"""API clients: the callers of the vault. Their bearer tokens are stored only as a hash."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Index, String, Uuid, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JsonColumn, UtcDateTime, utcnow


class ApiClient(Base):
    __tablename__ = "api_clients"
    __table_args__ = (
        # The client VAULT_BOOTSTRAP_TOKEN re-keys is this row, whatever clients are named.
        Index(
            "uq_api_clients_live_bootstrap",
            "is_bootstrap",
            unique=True,
            sqlite_where=text("is_bootstrap AND revoked_at IS NULL"),
            postgresql_where=text("is_bootstrap AND revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JsonColumn)
    account_ids: Mapped[list[str] | None] = mapped_column(JsonColumn, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    is_bootstrap: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __repr__(self) -> str:
        return f"ApiClient(id={self.id}, name={self.name!r}, scopes={self.scopes})"
