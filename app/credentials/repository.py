"""SQL for credentials and their versions. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.credentials.models import Credential, CredentialVersion


@dataclass(frozen=True, slots=True)
class CredentialFilter:
    account_id: str | None = None
    market: str | None = None
    environment: str | None = None
    status: str | None = None
    refresh_expires_before: datetime | None = None
    account_ids: frozenset[str] | None = None  # the caller's restriction, if any


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, credential: Credential, version: CredentialVersion) -> None:
        self.session.add(credential)
        await self.session.flush()
        self.session.add(version)
        await self.session.flush()

    async def get_live(self, credential_id: uuid.UUID) -> Credential | None:
        credential = await self.session.get(Credential, credential_id)
        if credential is None or credential.deleted_at is not None:
            return None
        return credential

    async def live_for(self, account_id: str, market: str, environment: str) -> Credential | None:
        result = await self.session.execute(
            select(Credential).where(
                Credential.account_id == account_id,
                Credential.market == market,
                Credential.environment == environment,
                Credential.deleted_at.is_(None),
            )
        )
        return result.scalar_one_or_none()

    async def page(
        self, where: CredentialFilter, *, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Credential]:
        query = select(Credential).where(Credential.deleted_at.is_(None))
        if where.account_id is not None:
            query = query.where(Credential.account_id == where.account_id)
        if where.market is not None:
            query = query.where(Credential.market == where.market)
        if where.environment is not None:
            query = query.where(Credential.environment == where.environment)
        if where.status is not None:
            query = query.where(Credential.status == where.status)
        if where.refresh_expires_before is not None:
            query = query.where(Credential.refresh_expires_at < where.refresh_expires_before)
        if where.account_ids is not None:
            query = query.where(Credential.account_id.in_(sorted(where.account_ids)))
        if after is not None:
            at, last_id = after
            query = query.where(
                (Credential.created_at < at)
                | ((Credential.created_at == at) & (Credential.id < last_id))
            )
        query = query.order_by(Credential.created_at.desc(), Credential.id.desc()).limit(limit + 1)
        return (await self.session.execute(query)).scalars().all()

    async def versions(self, credential_id: uuid.UUID) -> Sequence[CredentialVersion]:
        result = await self.session.execute(
            select(CredentialVersion)
            .where(CredentialVersion.credential_id == credential_id)
            .order_by(CredentialVersion.version.desc())
        )
        return result.scalars().all()

    async def version(self, credential_id: uuid.UUID, version: int) -> CredentialVersion | None:
        return await self.session.get(CredentialVersion, (credential_id, version))

    async def destroy_versions(self, credential_id: uuid.UUID) -> None:
        """Remove every sealed secret of a credential: the key material is gone, not flagged."""
        await self.session.execute(
            update(CredentialVersion)
            .where(CredentialVersion.credential_id == credential_id)
            .values(state="destroyed", sealed_secret=None)
            .execution_options(synchronize_session="fetch")
        )

    async def flush(self) -> None:
        await self.session.flush()
