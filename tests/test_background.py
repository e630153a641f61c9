"""``PeriodicTask``: the one loop of the background jobs (drift, webhooks, audit, usage stamps,
KEK wrap counts). Passes run on schedule or when woken, a failing pass never ends the job,
and ``stop`` cancels a pass or lets it finish as the job asks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from app.background import PeriodicTask
from app.errors import DatabaseUnavailable

log = logging.getLogger("tests.background")
SHORT = 0.02
LONG = 60.0  # never reached within a test: only a wake or a stop ends such a wait


async def eventually(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def job(
    run: Callable[[], Awaitable[object]], *, interval: float = SHORT, **options: bool
) -> PeriodicTask:
    return PeriodicTask("test-job", run, interval=interval, log=log, log_as="test pass", **options)


async def test_passes_repeat_every_interval_the_first_one_after_it() -> None:
    passes: list[float] = []
    loop = asyncio.get_running_loop()

    async def run() -> None:
        passes.append(loop.time())

    started = loop.time()
    task = job(run)
    task.start()
    await eventually(lambda: len(passes) >= 3)
    await task.stop()
    assert passes[0] - started >= SHORT * 0.9
    count = len(passes)
    await asyncio.sleep(SHORT * 3)
    assert len(passes) == count  # stopped means stopped


async def test_run_at_start_and_wake_skip_the_wait() -> None:
    passes = 0

    async def run() -> None:
        nonlocal passes
        passes += 1

    task = job(run, interval=LONG, run_at_start=True)
    task.start()
    await eventually(lambda: passes == 1)
    task.wake()
    await eventually(lambda: passes == 2)
    await task.stop()


async def test_a_busy_pass_is_followed_at_once_by_the_next() -> None:
    backlog = [3, 2, 1, 0]

    async def run() -> int:
        return backlog.pop(0) if backlog else 0

    task = job(run, interval=LONG, run_at_start=True, again_if_busy=True)
    task.start()
    await eventually(lambda: not backlog)  # four passes, no interval waited between them
    await task.stop()


async def test_a_failing_pass_is_logged_without_its_message_and_the_job_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[BaseException] = [
        DatabaseUnavailable("postgres://user:hunter2@db/vault"),
        ConnectionResetError("peer said hunter2"),
        KeyError("hunter2"),
    ]
    passes = 0

    async def run() -> None:
        nonlocal passes
        passes += 1
        if failures:
            raise failures.pop(0)

    caplog.set_level(logging.WARNING, logger=log.name)
    task = job(run)
    task.start()
    await eventually(lambda: passes >= 4)
    await task.stop()
    records = [
        (r.levelname, r.getMessage(), getattr(r, "error", None))
        for r in caplog.records
        if r.name == log.name
    ]
    assert records == [
        ("WARNING", "test pass failed", "database_unavailable"),
        ("WARNING", "test pass failed", "ConnectionResetError"),
        ("ERROR", "test pass failed unexpectedly", "KeyError"),
    ]
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize("interrupt", [True, False])
async def test_stop_cancels_a_pass_or_lets_it_finish(interrupt: bool) -> None:
    began, finished = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        began.set()
        await asyncio.sleep(0.2)
        finished.set()

    task = job(run, run_at_start=True, interval=LONG, interrupt=interrupt)
    task.start()
    await began.wait()
    await task.stop()
    assert finished.is_set() is not interrupt
    assert not task.running


async def test_an_interval_of_zero_turns_the_job_off() -> None:
    async def run() -> None:
        raise AssertionError("never runs")

    task = job(run, interval=0, run_at_start=True)
    task.start()
    assert not task.running
    await asyncio.sleep(SHORT)
    await task.stop()
