"""SQL of the bulk import: which slots hold what, and new credentials inserted in two
statements. Flushes, never commits."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import JSON, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.credentials.models import Credential, CredentialVersion
from app.db import ASYNCPG_UNAVAILABLE, Base
from app.errors import DatabaseUnavailable

Slot = tuple[str, str, str]  # (account_id, market, environment): one live credential each


class SlotTaken(Exception):
    """A bulk insert met a live credential in one of its slots (written meanwhile)."""


class BulkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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

    async def add_many(self, pairs: Sequence[tuple[Credential, CredentialVersion]]) -> None:
        """Insert new credentials and their first versions in two statements (COPY on
        PostgreSQL): the ORM's unit of work costs more per row than sealing it. Raises
        ``SlotTaken`` when a slot is no longer free."""
        for credential, version in pairs:  # saves the triggers an UPDATE each
            credential.current_sealed_secret = version.sealed_secret
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
