"""/readyz asks a working KEK provider at most once per few seconds, however often it is
probed, never has two round trips out at a hanging one, notices within a second that a provider
which failed works again, and shares one database check among probes that arrive together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.crypto import Envelope, LocalKeyring
from app.ops import kek_probe, repository, router
from app.ops.kek_probe import FAILED_CHECK_SECONDS, KEK_CHECK_CACHE_SECONDS, KekProbe
from app.state import AppState
from tests.crypto.odd_provider import OddProvider


class _CountingProvider(OddProvider):
    def __init__(self) -> None:
        super().__init__(LocalKeyring.parse(LocalKeyring.generate_spec("k1")))
        self.wraps = 0

    def stop_answering(self) -> None:
        self._unavailable = True

    def answer_again(self) -> None:
        self._unavailable = False

    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        self.wraps += 1
        await asyncio.sleep(0.01)  # a remote provider takes a while: probes overlap
        return await super().wrap(dek, context=context)


class _CountingEnvelope(Envelope):
    """The app's envelope, counting readiness round trips (each is a wrap and an unwrap)."""

    checks = 0

    async def self_check(self) -> None:
        type(self).checks += 1
        await super().self_check()


async def test_ten_probes_make_one_kek_round_trip(
    client: httpx.AsyncClient, vault_state: AppState, local_keks: str
) -> None:
    _CountingEnvelope.checks = 0
    vault_state.envelope = _CountingEnvelope(LocalKeyring.parse(local_keks))
    answers = await asyncio.gather(*(client.get("/readyz") for _ in range(5)))
    answers += [await client.get("/readyz") for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 10
    assert _CountingEnvelope.checks == 1


async def test_verdict_is_checked_again_once_it_is_old() -> None:
    now = [0.0]
    probe = KekProbe(clock=lambda: now[0])
    provider = _CountingProvider()
    envelope = Envelope(provider)
    assert await probe.healthy(envelope)
    provider.stop_answering()
    now[0] += KEK_CHECK_CACHE_SECONDS - 0.1
    assert await probe.healthy(envelope)  # the cached verdict
    now[0] += 0.2
    assert not await probe.healthy(envelope)
    provider.answer_again()
    now[0] += FAILED_CHECK_SECONDS - 0.1
    assert not await probe.healthy(envelope)  # a bad verdict is kept a second ...
    assert provider.wraps == 2
    now[0] += 0.2
    assert await probe.healthy(envelope)  # ... and no longer
    assert provider.wraps == 3


@pytest.mark.parametrize("concurrent", [8])
async def test_probes_during_a_check_share_it(concurrent: int) -> None:
    provider = _CountingProvider()
    probe = KekProbe()
    results = await asyncio.gather(*(probe.healthy(Envelope(provider)) for _ in range(concurrent)))
    assert results == [True] * concurrent
    assert provider.wraps == 1


class _HangingProvider(_CountingProvider):
    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        self.wraps += 1
        await asyncio.Event().wait()  # a KEK service that never answers
        raise AssertionError("unreachable")


async def test_closing_cancels_a_running_check_and_answers_its_waiters() -> None:
    provider = _HangingProvider()
    probe = KekProbe()
    waiting = [asyncio.ensure_future(probe.healthy(Envelope(provider))) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert provider.wraps == 1
    assert not any(w.done() for w in waiting)
    await probe.aclose()
    # The probes in flight are told "not ready" rather than cancelled with the check ...
    assert await asyncio.gather(*waiting) == [False] * 3
    # ... and a probe after the stop gets the same, without reaching the provider again.
    assert not await probe.healthy(Envelope(provider))
    assert provider.wraps == 1


class _GatedProvider(_CountingProvider):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        await self.gate.wait()  # a slow KEK service, as slow as the test needs
        return await super().wrap(dek, context=context)


async def test_a_probe_that_gives_up_leaves_the_check_to_the_others() -> None:
    provider = _GatedProvider()
    probe = KekProbe()
    leaving = asyncio.ensure_future(probe.healthy(Envelope(provider)))
    staying = asyncio.ensure_future(probe.healthy(Envelope(provider)))
    await asyncio.sleep(0.01)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    provider.gate.set()
    assert await staying  # the shared check went on
    assert provider.wraps == 1


async def test_a_hanging_kek_gets_one_round_trip_however_many_checks_give_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kek_probe, "PROBE_TIMEOUT_SECONDS", 0.05)
    now = [0.0]
    probe = KekProbe(clock=lambda: now[0])
    provider = _GatedProvider()
    envelope = Envelope(provider)
    assert not await probe.healthy(envelope)  # gave up on the round trip ...
    now[0] += FAILED_CHECK_SECONDS + 0.1
    assert not await probe.healthy(envelope)  # ... and the next check waits for the same one
    round_trip = probe._round_trip
    assert round_trip is not None
    provider.gate.set()
    await round_trip  # it ends, its checks long gone
    assert provider.wraps == 1  # the one round trip: no check started another
    now[0] += FAILED_CHECK_SECONDS + 0.1
    assert await probe.healthy(envelope)  # the provider answers: a fresh round trip says so
    assert provider.wraps == 2


async def test_probes_that_arrive_together_share_one_database_check(
    client: httpx.AsyncClient, vault_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks, asking, everyone_asks = 0, 0, asyncio.Event()
    answers, run = repository.database_answers, vault_state.database_probe.run

    async def counted(engine: AsyncEngine) -> None:
        nonlocal checks
        checks += 1
        await everyone_asks.wait()  # a slow database: every probe arrives meanwhile
        await answers(engine)

    async def counted_run(key: Hashable, load: Callable[[], Awaitable[bool]]) -> bool:
        nonlocal asking
        if key == router.READINESS:
            asking += 1
            if asking == 8:
                everyone_asks.set()
        return await run(key, load)

    monkeypatch.setattr(router, "database_answers", counted)
    monkeypatch.setattr(vault_state.database_probe, "run", counted_run)
    replies = await asyncio.gather(*(client.get("/readyz") for _ in range(8)))
    assert [r.status_code for r in replies] == [200] * 8
    assert checks == 1
    assert all("data_keys_on_old_keks" in r.json()["details"] for r in replies)


async def test_a_probe_waiting_when_the_vault_stops_is_told_not_ready(
    client: httpx.AsyncClient, vault_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered = asyncio.Event()

    async def hangs(_engine: AsyncEngine) -> None:
        entered.set()
        await asyncio.Event().wait()  # a database that never answers

    monkeypatch.setattr(router, "database_answers", hangs)
    probe = asyncio.ensure_future(client.get("/readyz"))
    await entered.wait()
    await vault_state.database_probe.aclose()  # the stop's first steps
    await vault_state.kek_probe.aclose()
    reply = await probe
    assert reply.status_code == 503
    assert reply.json()["checks"] == {"database": "failed", "kek": "failed"}
