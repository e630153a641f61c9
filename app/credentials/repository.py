"""SQL for credentials and their versions. Flushes, never commits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import JSON, Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.credentials.models import Credential, CredentialVersion
from app.db import ASYNCPG_UNAVAILABLE, Base, utcnow
from app.errors import DatabaseUnavailable
from app.pagination import by_time_id
from app.walmart.models import OAuthToken

Slot = tuple[str, str, str]  # (account_id, market, environment): one live credential each


class SlotTaken(Exception):
    """A bulk insert met a live credential in one of its slots (written meanwhile)."""


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

    async def add_many(self, pairs: Sequence[tuple[Credential, CredentialVersion]]) -> None:
        """Insert new credentials and their first versions in two statements (COPY on
        PostgreSQL): the ORM's unit of work costs more per row than sealing it. Raises
        ``SlotTaken`` when a slot is no longer free."""
        credentials = [_row(c) for c, _ in pairs]
        versions = [_row(v) for _, v in pairs]
        try:
            if self.session.get_bind().dialect.name == "postgresql":
                await self._copy(Credential.__table__, credentials)  # type: ignore[arg-type]
                await self._copy(CredentialVersion.__table__, versions)  # type: ignore[arg-type]
            else:
                await self.session.execute(insert(Credential), credentials)
                await self.session.execute(insert(CredentialVersion), versions)
        except (IntegrityError, asyncpg.IntegrityConstraintViolationError):
            raise SlotTaken() from None

    async def _copy(self, table: Table, rows: list[dict[str, Any]]) -> None:
        connection = await self.session.connection()
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        columns = [c.name for c in table.columns]
        json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
        records = [
            tuple(
                json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                for c in columns
            )
            for row in rows
        ]
        try:
            await driver.copy_records_to_table(table.name, columns=columns, records=records)
        except ASYNCPG_UNAVAILABLE as exc:  # the raw driver's errors: SQLAlchemy never sees them
            raise DatabaseUnavailable() from exc

    async def live_fingerprints(self, slots: Iterable[Slot]) -> dict[Slot, str]:
        """The current fingerprint of each slot that holds a live credential."""
        wanted = set(slots)
        if not wanted:
            return {}
        result = await self.session.execute(
            select(
                Credential.account_id,
                Credential.market,
                Credential.environment,
                Credential.fingerprint,
            ).where(
                Credential.account_id.in_(sorted({account for account, _, _ in wanted})),
                Credential.deleted_at.is_(None),
            )
        )
        return {(a, m, e): f for a, m, e, f in result if (a, m, e) in wanted}

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
        query = by_time_id(query, Credential.created_at, Credential.id, limit=limit, after=after)
        return (await self.session.execute(query)).scalars().all()

    async def versions(self, credential_id: uuid.UUID) -> Sequence[CredentialVersion]:
        result = await self.session.execute(
            select(CredentialVersion)
            .where(CredentialVersion.credential_id == credential_id)
            .order_by(CredentialVersion.version.desc())
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

    async def refresh_expiring(self, windows_days: Iterable[int]) -> dict[str, int]:
        """Live App Store credentials whose refresh token ends within each window."""
        now = utcnow()
        counts = {}
        for days in windows_days:
            query = select(func.count()).where(
                Credential.deleted_at.is_(None),
                Credential.refresh_expires_at < now + timedelta(days=days),
            )
            counts[f"{days}d"] = (await self.session.execute(query)).scalar_one()
        return counts

    async def flush(self) -> None:
        await self.session.flush()


def _row(instance: Base) -> dict[str, Any]:
    """A new ORM object's column values, with the scalar defaults a flush would have added."""
    table = instance.__table__
    row = {}
    for column in table.columns:
        value = getattr(instance, column.key)
        if value is None and column.default is not None and column.default.is_scalar:
            value = column.default.arg
        row[column.key] = value
    return row
