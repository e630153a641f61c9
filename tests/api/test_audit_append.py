"""Appending to the audit chain: a transaction takes the chain head's lock only for its last
statement, a writer that finds the head moved links again, and the chain stays whole when
writers on many connections append at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import PreparedEvent, prepare
from app.audit.models import AuditEvent
from app.audit.repository import AuditRepository
from app.audit.service import record
from app.audit.verify import verify_chain
from app.db import before_commit, transaction, utcnow
from app.state import AppState
from tests.api.helpers import add_issued


def _note(session: AsyncSession, n: int) -> None:
    record(session, action="test.noted", caller=None, details={"n": n})


def _prepared(n: int) -> PreparedEvent:
    """What ``_note`` records, ready for the repository's own append."""
    return prepare(
        {
            "at": utcnow(),
            "action": "test.noted",
            "outcome": "success",
            "client_id": None,
            "request_id": None,
            "account_id": None,
            "credential_id": None,
            "version": None,
            "details": {"n": n},
        }
    )


async def _noted(vault_state: AppState) -> list[int]:
    """The noted numbers, in chain (id) order."""
    async with transaction(vault_state.sessionmaker) as session:
        details = await session.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.action == "test.noted")
            .order_by(AuditEvent.id)
        )
        return [d["n"] for d in details]


async def test_a_recorded_event_takes_no_lock_before_its_transaction_commits(
    vault_state: AppState,
) -> None:
    await vault_state.audit._ticker.stop()
    async with transaction(vault_state.sessionmaker) as session:
        _note(session, 1)
        # Another writer appends and commits while this transaction is still open. When
        # ``record`` appended at once, it held the head's lock (PostgreSQL's row lock, SQLite's
        # write lock) until this commit, and this wait ran into the timeout.
        add_issued(vault_state.audit, 3, account_id="acct-append", request_prefix="append")
        await asyncio.wait_for(vault_state.audit.flush(), timeout=3)
    async with transaction(vault_state.sessionmaker) as session:
        report = await verify_chain(session)
        order = await session.execute(
            text(
                "SELECT action FROM audit_events WHERE account_id = 'acct-append' OR "
                "action = 'test.noted' ORDER BY id"
            )
        )
    assert report.ok, report.problem
    assert [a for (a,) in order] == ["headers.issued"] * 3 + ["test.noted"]


async def test_a_rolled_back_transaction_appends_nothing(vault_state: AppState) -> None:
    async def failing_change() -> None:
        async with transaction(vault_state.sessionmaker) as session:
            _note(session, 7)
            raise LookupError("the change failed")

    with pytest.raises(LookupError):
        await failing_change()
    assert await _noted(vault_state) == []


async def test_a_writer_that_finds_the_head_moved_links_after_the_new_head(
    vault_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not vault_state.settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite's appends lock the whole database first: no head to find moved")
    tries: list[bool] = []  # whether each try of the second writer's insert went in
    insert_linked = AuditRepository._insert_linked

    async def counted(self: AuditRepository, *args: Any) -> bool:
        went_in = await insert_linked(self, *args)
        tries.append(went_in)
        return went_in

    sessionmaker = vault_state.sessionmaker
    async with sessionmaker() as holder:
        # An append in progress: it has moved the head and holds its lock, not yet committed.
        await AuditRepository(holder).append([_prepared(1)])

        async def second() -> None:
            async with transaction(sessionmaker) as session:
                _note(session, 2)

        monkeypatch.setattr(AuditRepository, "_insert_linked", counted)
        waiting = asyncio.create_task(second())
        await _until_waiting_on_a_lock(vault_state)  # it read the old head and is blocked
        await holder.commit()
        await asyncio.wait_for(waiting, timeout=5)
    async with transaction(sessionmaker) as session:
        report = await verify_chain(session)
    assert tries == [False, True]  # lost to the first writer, then linked after it
    assert report.ok, report.problem
    assert await _noted(vault_state) == [1, 2]


async def test_an_event_quoting_a_nul_character_is_stored_without_it(
    vault_state: AppState,
) -> None:
    # PostgreSQL's jsonb refuses NUL: the append would fail, and with it the change it records.
    async with transaction(vault_state.sessionmaker) as session:
        record(session, action="test.noted", caller=None, details={"n": 1, "said\x00": "a\x00b"})
    async with transaction(vault_state.sessionmaker) as session:
        details = await session.scalar(
            select(AuditEvent.details).where(AuditEvent.action == "test.noted")
        )
        report = await verify_chain(session)
    assert details == {"n": 1, "said\ufffd": "a\ufffdb"}
    assert report.ok, report.problem


async def test_writers_on_many_connections_keep_one_chain(vault_state: AppState) -> None:
    async def write(n: int) -> None:
        async with transaction(vault_state.sessionmaker) as session:
            _note(session, n)

    await asyncio.gather(*(write(n) for n in range(16)))
    async with transaction(vault_state.sessionmaker) as session:
        report = await verify_chain(session)
    assert report.ok, report.problem
    assert sorted(await _noted(vault_state)) == list(range(16))


async def test_recording_on_a_session_that_transaction_does_not_commit_fails_loudly(
    vault_state: AppState,
) -> None:
    async with vault_state.sessionmaker() as session:
        with pytest.raises(RuntimeError, match="transaction"):
            _note(session, 1)

    async def nothing(_: object) -> None:
        return None

    async with vault_state.sessionmaker() as session:
        with pytest.raises(RuntimeError, match="transaction"):
            before_commit(session, nothing)


async def _until_waiting_on_a_lock(vault_state: AppState) -> None:
    for _ in range(200):
        async with transaction(vault_state.sessionmaker) as session:
            waiting = await session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
            if waiting.scalar_one():
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the second writer never waited for the head's lock")
