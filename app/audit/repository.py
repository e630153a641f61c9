"""SQL for audit events. Append-only: there is no update or delete here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import FIELDS, PreparedEvent, link_hash
from app.audit.models import AuditChainHead, AuditEvent

# Every column but the identity ``id``, numbered in the arrays' order (``ORDER BY n``) while
# the head's lock is held, so ids follow the chain across writers too. Only while the head is
# still :expected does ``moved`` yield its row, and only then does the INSERT select any.
# Arrays rather than COPY: COPY cannot share a statement with the head's update.
INSERT_LINKED = text("""
WITH moved AS (
    UPDATE audit_chain_head SET last_hash = :last_hash, events = events + :count
    WHERE id = 1 AND last_hash = :expected
    RETURNING id
)
INSERT INTO audit_events (at, action, client_id, account_id, credential_id, version, outcome,
                          request_id, details, prev_hash, hash)
SELECT e.at, e.action, e.client_id, e.account_id, e.credential_id, e.version, e.outcome,
       e.request_id, CAST(e.details AS jsonb), e.prev_hash, e.hash
FROM unnest(CAST(:at AS timestamptz[]), CAST(:action AS text[]), CAST(:client_id AS uuid[]),
            CAST(:account_id AS text[]), CAST(:credential_id AS uuid[]),
            CAST(:version AS int[]), CAST(:outcome AS text[]), CAST(:request_id AS text[]),
            CAST(:details AS text[]), CAST(:prev_hash AS text[]), CAST(:hash AS text[]))
     WITH ORDINALITY AS e(at, action, client_id, account_id, credential_id, version, outcome,
                          request_id, details, prev_hash, hash, n)
WHERE EXISTS (SELECT FROM moved)
ORDER BY e.n
""")


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
        # By name, so the arrays cannot land in each other's columns.
        columns = dict(zip(FIELDS, zip(*(e.row for e in batch), strict=True), strict=True))
        head = select(AuditChainHead.last_hash).where(AuditChainHead.id == 1)
        if await self._insert_linked(batch, columns, (await self.session.scalars(head)).one()):
            return
        locked = (await self.session.scalars(head.with_for_update())).one()
        if not await self._insert_linked(batch, columns, locked):
            raise RuntimeError("the audit chain head moved while this transaction locked it")

    async def _insert_linked(
        self, batch: list[PreparedEvent], columns: dict[str, tuple[Any, ...]], expected: str
    ) -> bool:
        """Whether the events went in after ``expected`` (False: the head had moved on)."""
        links = _links(batch, expected)
        inserted = await self.session.execute(
            INSERT_LINKED,
            {
                **columns,
                "prev_hash": [prev for prev, _ in links],
                "hash": [this for _, this in links],
                "last_hash": links[-1][1],
                "count": len(batch),
                "expected": expected,
            },
        )
        return cast("CursorResult[Any]", inserted).rowcount == len(batch)

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
