"""Shutdown of the single-flight loads: none outlives ``aclose``, and its waiters are
answered (a shutdown error) unless they were cancelled themselves."""

from __future__ import annotations

import asyncio

import pytest

from app.errors import DatabaseUnavailable
from app.single_flight import ShuttingDown, SingleFlight


async def test_closing_ends_a_load_and_starts_none_meanwhile() -> None:
    flights: SingleFlight[str] = SingleFlight()
    refused: list[Exception] = []

    async def first() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            try:  # a request finishing during shutdown asks for another load
                flights.start("two", first)
            except DatabaseUnavailable as exc:
                refused.append(exc)
            raise
        return "never"

    one = flights.start("one", first)
    await asyncio.sleep(0)
    await asyncio.wait_for(flights.aclose(), timeout=5)
    assert one.cancelled()
    assert [str(exc) for exc in refused] == ["The vault is shutting down; try again."]


async def test_a_load_that_fails_as_it_is_cancelled_does_not_stop_the_shutdown() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def failing() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("the connection broke while closing") from None
        return "never"

    failed = flights.start("key", failing)
    await asyncio.sleep(0)
    await asyncio.wait_for(flights.aclose(), timeout=5)
    assert isinstance(failed.exception(), RuntimeError)


async def test_after_closing_no_load_starts() -> None:
    flights: SingleFlight[str] = SingleFlight()
    await flights.aclose()
    loads: list[str] = []

    async def load() -> str:
        loads.append("started")
        return "value"

    with pytest.raises(DatabaseUnavailable, match="shutting down"):
        await flights.run("key", load)
    await asyncio.sleep(0)
    assert loads == []


async def _hangs() -> str:
    await asyncio.Event().wait()
    return "never"


async def test_a_waiter_on_a_load_closing_ends_is_told_the_vault_is_stopping() -> None:
    flights: SingleFlight[str] = SingleFlight()
    waiting = asyncio.ensure_future(flights.run("key", _hangs))
    await asyncio.sleep(0.01)
    await flights.aclose()
    with pytest.raises(ShuttingDown, match="shutting down"):
        await waiting


async def test_a_waiter_cancelled_as_the_flights_close_is_still_cancelled() -> None:
    flights: SingleFlight[str] = SingleFlight()
    waiting = asyncio.ensure_future(flights.run("key", _hangs))
    await asyncio.sleep(0.01)
    load = flights.start("key", _hangs)  # joins the load the waiter waits for
    # The caller's cancellation lands in the step where the closed load's end wakes it: the
    # caller's wins, so a request being torn down (or a timeout) is not swallowed as "not ready".
    load.add_done_callback(lambda _load: waiting.cancel())
    await flights.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiting
