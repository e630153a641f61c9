"""SQL for audit events. Append-only: there is no update or delete here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import PreparedEvent, link_hash
from app.audit.models import AuditChainHead, AuditEvent
from app.db import ASYNCPG_UNAVAILABLE as UNAVAILABLE
from app.errors import DatabaseUnavailable

LOCK_HEAD = "SELECT last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE"
# Every column but the identity ``id``, numbered in the arrays' order (``ORDER BY n``) while
# the head's lock is held, so ids follow the chain across writers too. Only when the head is
# still $3 does ``moved`` yield its row, and only then does the INSERT select any. Arrays
# rather than COPY: COPY cannot share a statement with the head's update.
INSERT_LINKED = """
WITH moved AS (
    UPDATE audit_chain_head SET last_hash = $1, events = events + $2
    WHERE id = 1 AND last_hash = $3
    RETURNING id
)
INSERT INTO audit_events (at, action, client_id, account_id, credential_id, version, outcome,
                          request_id, details, prev_hash, hash)
SELECT e.at, e.action, e.client_id, e.account_id, e.credential_id, e.version, e.outcome,
       e.request_id, e.details::jsonb, e.prev_hash, e.hash
FROM unnest($4::timestamptz[], $5::text[], $6::uuid[], $7::text[], $8::uuid[], $9::int[],
            $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
     WITH ORDINALITY AS e(at, action, client_id, account_id, credential_id, version, outcome,
                          request_id, details, prev_hash, hash, n)
WHERE EXISTS (SELECT FROM moved)
ORDER BY e.n
"""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    credential_id: object | None = None
    account_id: str | None = None
    client_id: object | None = None
    action: str | None = None
    since: object | None = None
    account_ids: frozenset[str] | None = None


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, events: Iterable[PreparedEvent]) -> None:
        """Chain and insert events, in list order, so ids follow the chain. ``audit.service``
        makes this a transaction's last work before its commit."""
        batch = list(events)
        if not batch:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            await self._append_postgres(batch)
        else:
            await self._append_sqlite(batch)

    async def _append_postgres(self, batch: list[PreparedEvent]) -> None:
        """Read the head without a lock, then link and insert in one statement that moves the
        head only if it is still what was read. The head's row lock, which every audited
        write on every replica waits for, is then held for that statement and the commit:
        locking it first held it through every await of the append, and a worker whose event
        loop was saturated held it for seconds. If another writer moved the head meanwhile,
        the second try locks the head first, so it cannot lose again."""
        head = select(AuditChainHead.last_hash).where(AuditChainHead.id == 1)
        last_hash = (await self.session.execute(head)).scalar_one()  # begins the transaction
        driver = await self._driver()
        try:
            if await self._insert_linked(driver, batch, last_hash):
                return
            last_hash = await driver.fetchval(LOCK_HEAD)
            if not await self._insert_linked(driver, batch, last_hash):
                raise RuntimeError("the audit chain head moved while this transaction locked it")
        except UNAVAILABLE as exc:  # the raw driver's errors: SQLAlchemy never sees them
            raise DatabaseUnavailable() from exc

    @staticmethod
    async def _insert_linked(
        driver: asyncpg.Connection, batch: list[PreparedEvent], last_hash: str
    ) -> bool:
        """Whether the events went in after ``last_hash`` (False: the head had moved on)."""
        links = _links(batch, last_hash)
        columns = list(zip(*(e.row for e in batch), strict=True))
        status = await driver.execute(
            INSERT_LINKED,
            links[-1][1],
            len(batch),
            last_hash,
            *columns,
            [prev for prev, _ in links],
            [this for _, this in links],
        )
        return int(status.rsplit(" ", 1)[1]) == len(batch)  # "INSERT 0 <rows>"

    async def _append_sqlite(self, batch: list[PreparedEvent]) -> None:
        # The UPDATE comes first: it takes SQLite's write lock, held to the commit anyway.
        head = await self.session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.id == 1)
            .values(events=AuditChainHead.events + len(batch))
            .returning(AuditChainHead.last_hash)
        )
        links = _links(batch, head.scalar_one())
        rows = [
            {**e.fields, "prev_hash": p, "hash": h} for e, (p, h) in zip(batch, links, strict=True)
        ]
        await self.session.execute(insert(AuditEvent), rows)
        await self.session.execute(
            update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=links[-1][1])
        )

    async def _driver(self) -> asyncpg.Connection:
        connection = await self.session.connection()
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        return driver

    async def page(
        self, where: AuditFilter, *, limit: int, before_id: int | None
    ) -> Sequence[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
        for column, value in (
            (AuditEvent.credential_id, where.credential_id),
            (AuditEvent.account_id, where.account_id),
            (AuditEvent.client_id, where.client_id),
            (AuditEvent.action, where.action),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(AuditEvent.at >= where.since)
        if where.account_ids is not None:
            query = query.where(AuditEvent.account_id.in_(sorted(where.account_ids)))
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        return (await self.session.execute(query)).scalars().all()

    async def in_order(self) -> AsyncIterator[AuditEvent]:
        result = await self.session.stream_scalars(
            select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
        )
        async for event in result:
            yield event

    async def head(self) -> AuditChainHead:
        return (await self.session.execute(select(AuditChainHead))).scalar_one()


def _links(batch: list[PreparedEvent], prev: str) -> list[tuple[str, str]]:
    """(prev_hash, hash) of each event, in order, after ``prev``."""
    links = []
    for event in batch:
        this = link_hash(prev, event.canonical)
        links.append((prev, this))
        prev = this
    return links
