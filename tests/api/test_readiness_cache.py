"""/readyz asks a working KEK provider at most once per few seconds, however often it is
probed, and notices at the next probe that a provider which failed works again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
import pytest

from app.crypto import Envelope, LocalKeyring
from app.ops.kek_probe import KEK_CHECK_CACHE_SECONDS, KekProbe
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
    assert await probe.healthy(envelope)  # a bad verdict is never kept


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


async def test_a_probe_cancelled_by_its_caller_is_cancelled() -> None:
    probe = KekProbe()
    waiting = asyncio.ensure_future(probe.healthy(Envelope(_HangingProvider())))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await probe.aclose()
