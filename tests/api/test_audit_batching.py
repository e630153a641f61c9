"""When the audit batcher writes: a batch at ``FLUSH_AT`` events or when the oldest is due,
a backlog drained at once, and events that arrive during a write left for their own trigger
(not written in a transaction of their own, as they once were)."""

from __future__ import annotations

import uuid

import pytest

from app.audit.batcher import FLUSH_AT, MAX_BATCH, AuditBatcher
from app.audit.chain import PreparedEvent
from app.audit.repository import AuditRepository
from app.state import AppState


def _add(batcher: AuditBatcher, count: int) -> None:
    for n in range(count):
        batcher.add(
            action="headers.issued",
            client_id=None,
            request_id=f"batching-{n}",
            account_id="acct-batching",
            credential_id=uuid.UUID(int=n + 1),
            version=1,
            details={"kind": "signature", "method": "GET", "path": "/v3/ca/feeds"},
        )


@pytest.fixture
def writes(vault_state: AppState, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the batcher writes (each its own transaction); the writes
    themselves still happen."""
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
    _add(batcher, FLUSH_AT - 1)
    await batcher._tick()
    assert writes == []  # neither full nor due (the interval is a second)
    _add(batcher, 1)
    await batcher._tick()
    assert writes == [FLUSH_AT]


async def test_a_backlog_drains_in_one_tick(vault_state: AppState, writes: list[int]) -> None:
    _add(vault_state.audit, MAX_BATCH + FLUSH_AT + 3)
    await vault_state.audit._tick()
    assert writes == [MAX_BATCH, FLUSH_AT + 3]


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
