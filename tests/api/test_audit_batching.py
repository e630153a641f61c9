"""When the audit batcher writes: a batch at ``FLUSH_AT`` events or when the oldest is due,
a backlog drained at once, events that arrive during a write left for their own trigger (not
written in a transaction of their own, as they once were), a failed write retried an interval
later. Each test drives the ticks itself: the lifespan's ticker is stopped."""

from __future__ import annotations

import pytest

from app.audit.batcher import FLUSH_AT, MAX_BATCH, AuditBatcher
from app.audit.chain import PreparedEvent
from app.audit.repository import AuditRepository
from app.errors import DatabaseUnavailable
from app.state import AppState
from tests.api.helpers import add_issued


def _add(batcher: AuditBatcher, count: int) -> None:
    add_issued(batcher, count, account_id="acct-batching", request_prefix="batching")


@pytest.fixture
async def writes(vault_state: AppState, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the batcher writes (each its own transaction); the writes
    themselves still happen."""
    await vault_state.audit._ticker.stop()
    sizes: list[int] = []
    original = AuditRepository.append

    async def counted(self: AuditRepository, events: list[PreparedEvent]) -> None:
        sizes.append(len(events))
        await original(self, events)

    monkeypatch.setattr(AuditRepository, "append", counted)
    return sizes


async def test_a_tick_waits_for_a_full_batch_or_the_interval(
    vault_state: AppState, writes: list[int]
) -> None:
    batcher = vault_state.audit
    batcher.interval = 60  # not due during the test, however slow the machine
    _add(batcher, FLUSH_AT - 1)
    await batcher._tick()
    assert writes == []  # neither full nor due
    _add(batcher, 1)
    await batcher._tick()
    assert writes == [FLUSH_AT]


async def test_a_backlog_drains_in_one_tick(vault_state: AppState, writes: list[int]) -> None:
    _add(vault_state.audit, MAX_BATCH + FLUSH_AT + 3)
    await vault_state.audit._tick()
    assert writes == [MAX_BATCH, FLUSH_AT + 3]


async def test_the_rest_of_a_burst_waits_only_as_long_as_its_oldest_event_may(
    vault_state: AppState, writes: list[int]
) -> None:
    batcher = vault_state.audit
    # Not due during the test, however slow the machine (a 500-event write on PostgreSQL once
    # took longer than the default second in a full run here, and the three left came due).
    batcher.interval = 60
    _add(batcher, MAX_BATCH + 3)
    await batcher._tick()
    assert writes == [MAX_BATCH]  # the three left are neither a batch nor due yet
    batcher._oldest -= batcher.interval  # a second later: counted from the burst's oldest
    await batcher._tick()
    assert writes == [MAX_BATCH, 3]


async def test_a_failed_write_is_retried_an_interval_later_not_every_tick(
    vault_state: AppState, writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = vault_state.audit
    counted = AuditRepository.append

    async def down_once(self: AuditRepository, events: list[PreparedEvent]) -> None:
        await counted(self, events)  # noted in ``writes``; the database then fails
        if len(writes) == 1:
            raise DatabaseUnavailable()

    monkeypatch.setattr(AuditRepository, "append", down_once)
    _add(batcher, FLUSH_AT)
    await batcher._tick()
    await batcher._tick()  # full, but the database just failed
    assert writes == [FLUSH_AT]
    assert len(batcher._pending) == FLUSH_AT  # kept
    batcher._retry_at -= batcher.interval
    await batcher._tick()
    assert writes == [FLUSH_AT, FLUSH_AT]
    assert batcher._pending == []


async def test_events_arriving_during_a_write_wait_for_their_own_trigger(
    vault_state: AppState, writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = vault_state.audit
    written = AuditRepository.append

    async def with_arrivals(self: AuditRepository, events: list[PreparedEvent]) -> None:
        if not writes:  # requests answered while the first batch is being written
            _add(batcher, 3)
        await written(self, events)

    monkeypatch.setattr(AuditRepository, "append", with_arrivals)
    _add(batcher, FLUSH_AT)
    await batcher._tick()
    assert writes == [FLUSH_AT]
    assert len(batcher._pending) == 3
    await batcher.flush()  # shutdown writes the rest
    assert writes == [FLUSH_AT, 3]
