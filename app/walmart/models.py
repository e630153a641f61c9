"""The cached Walmart access token of each OAuth credential, shared by every replica.

One row per credential, tagged with the credential version it was fetched for: a token of an
older version is never served. The token itself is sealed like any other secret.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime


class OAuthToken(Base):
    __tablename__ = "oauth_tokens"

    credential_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("credentials.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    sealed_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"OAuthToken(credential_id={self.credential_id}, version={self.version})"
