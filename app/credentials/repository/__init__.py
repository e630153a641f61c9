"""SQL for credentials and their versions. Flushes, never commits.

This package holds the credentials package's statements on ``credentials`` and
``credential_versions`` (an App Store connection reads its slot's credential in its own
repository): the credential's own life here, and one module per reader with needs of its own
(``bulk``: the import's two-statement insert; ``refresh_expiry``: App Store refresh tokens
nearing their end; ``rewrap``: sealed values a KEK rotation moves; ``snapshots``: the hot
path's one read).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.credentials.models import Credential, CredentialVersion
from app.db import is_sqlite
from app.pagination import by_time_id
from app.walmart.models import OAuthToken


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
        credential.current_sealed_secret = version.sealed_secret  # what the triggers would copy
        self.session.add(credential)
        await self.session.flush()
        await self.add_version(version)

    async def add_version(self, version: CredentialVersion) -> None:
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

    async def live_ids(self, *, status: str) -> Sequence[uuid.UUID]:
        query = select(Credential.id).where(
            Credential.status == status, Credential.deleted_at.is_(None)
        )
        return (await self.session.execute(query)).scalars().all()

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
        query = by_time_id(query, Credential.created_at, Credential.id, limit=limit, after=after)
        return (await self.session.execute(query)).scalars().all()

    async def versions(self, credential_id: uuid.UUID) -> Sequence[CredentialVersion]:
        result = await self.session.execute(
            select(CredentialVersion)
            .where(CredentialVersion.credential_id == credential_id)
            .order_by(CredentialVersion.version.desc())
        )
        return result.scalars().all()

    async def version_states(self, credential_id: uuid.UUID) -> Sequence[tuple[int, str]]:
        """Every version's number and state, without loading the versions."""
        result = await self.session.execute(
            select(CredentialVersion.version, CredentialVersion.state).where(
                CredentialVersion.credential_id == credential_id
            )
        )
        return [(version, state) for version, state in result]

    async def pending_created_before(
        self, credential_id: uuid.UUID, cutoff: datetime
    ) -> Sequence[CredentialVersion]:
        """Pending versions created before ``cutoff``."""
        result = await self.session.execute(
            select(CredentialVersion).where(
                CredentialVersion.credential_id == credential_id,
                CredentialVersion.state == "pending",
                CredentialVersion.created_at < cutoff,
            )
        )
        return result.scalars().all()

    async def version(
        self, credential_id: uuid.UUID, version: int, *, fresh: bool = False
    ) -> CredentialVersion | None:
        """``fresh``: read the row again even if this session holds it (another replica may
        have changed it, such as a rotated refresh token)."""
        return await self.session.get(
            CredentialVersion, (credential_id, version), populate_existing=fresh
        )

    async def fresh(self, credential_id: uuid.UUID) -> Credential | None:
        credential = await self.session.get(Credential, credential_id, populate_existing=True)
        if credential is None or credential.deleted_at is not None:
            return None
        return credential

    async def drop_access_token(self, credential_id: uuid.UUID) -> None:
        # Through the unit of work, not a bulk DELETE: the session announces what it removed.
        token = await self.session.get(OAuthToken, credential_id)
        if token is not None:
            await self.session.delete(token)
            await self.session.flush()

    async def destroy_versions(self, credential_id: uuid.UUID, *, keep: int | None = None) -> None:
        """Remove every sealed secret of a credential (but version ``keep``): the key material
        is gone, not flagged."""
        # Through the unit of work, not a bulk UPDATE: the session announces what it changed.
        for version in await self.versions(credential_id):
            if version.version != keep:
                version.state, version.sealed_secret = "destroyed", None
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()


@contextlib.asynccontextmanager
async def job_lock(engine: AsyncEngine, key: int) -> AsyncIterator[bool]:
    """A scheduled job's lock across replicas, held while the block runs: whether this
    replica got it (False: another holds it). PostgreSQL: a session advisory lock on a
    connection of its own; SQLite serves one process, which always gets it."""
    if is_sqlite(str(engine.url)):
        yield True
        return
    async with engine.connect() as opened:
        # Outside any transaction: the lock belongs to the session, and a connection left
        # "idle in transaction" for a whole pass is what idle_in_transaction_session_timeout
        # closes, lock and all, while the job still runs.
        connection = await opened.execution_options(isolation_level="AUTOCOMMIT")
        got = await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        if not got.scalar_one():
            yield False
            return
        try:
            yield True
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
