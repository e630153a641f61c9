"""SQL for stored access tokens (``oauth_tokens``) and the refresh lock. Flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.walmart.models import OAuthToken


class OAuthTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, credential_id: uuid.UUID) -> OAuthToken | None:
        """The stored token as the database has it now (not as this session last saw it)."""
        return await self.session.get(OAuthToken, credential_id, populate_existing=True)

    async def put(
        self,
        credential_id: uuid.UUID,
        *,
        version: int,
        sealed_token: str,
        expires_at: datetime,
        fetched_at: datetime,
    ) -> None:
        row = await self.session.get(OAuthToken, credential_id)
        if row is None:
            row = OAuthToken(credential_id=credential_id)
            self.session.add(row)
        row.version, row.sealed_token = version, sealed_token
        row.expires_at, row.fetched_at = expires_at, fetched_at
        await self.session.flush()

    async def delete(self, credential_id: uuid.UUID) -> None:
        # Through the unit of work, not a bulk DELETE: the session announces what it removed.
        row = await self.session.get(OAuthToken, credential_id)
        if row is not None:
            await self.session.delete(row)
            await self.session.flush()

    async def try_refresh_lock(self, credential_id: uuid.UUID) -> bool:
        """PostgreSQL: the credential's refresh lock for this transaction, if free now."""
        key = int.from_bytes(credential_id.bytes[:8], "big", signed=True)
        got = await self.session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}
        )
        return bool(got.scalar_one())
