"""A writer cannot freeze the vault with a hostile RSA key: out-of-bounds keys are refused at
once, a taken slot answers 409 before any key is read, and the largest key the vault accepts
is checked off the event loop while /healthz keeps answering."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.api.helpers import assert_error
from tests.factories import rsa_key, signature_body
from tests.hostile_keys import key_with_exponent, pkcs8, private_der, seller_center, shaped_pkcs1

# What a probe may wait while a 4,096-bit key (about 0.6 s of CPU) is checked.
HEALTHZ_BUDGET_SECONDS = 0.25


def _hostile_body(der: bytes) -> dict[str, Any]:
    body = signature_body()
    body["auth"]["private_key"] = seller_center(der)
    return body


async def test_oversized_and_huge_exponent_keys_refused_at_once(http: httpx.AsyncClient) -> None:
    for der, words in (
        (pkcs8(shaped_pkcs1(16384)), "RSA key is 16384 bits"),
        (pkcs8(shaped_pkcs1(8192)), "RSA key is 8192 bits"),
        (private_der(key_with_exponent(2**2039 + 1)), "public exponent is 2040 bits"),
    ):
        started = time.perf_counter()
        response = await http.post("/v1/credentials", json=_hostile_body(der))
        assert time.perf_counter() - started < 0.5
        error = assert_error(response, 422, "invalid_private_key")
        assert words in error["message"]
        assert error["details"] == {"field": "auth.private_key"}
    listed = await http.get("/v1/credentials")
    assert listed.json()["items"] == []


async def test_taken_slot_answers_409_before_the_key_is_read(http: httpx.AsyncClient) -> None:
    first = await http.post("/v1/credentials", json=signature_body())
    assert first.status_code == 201, first.text
    # The same slot with a key that would be refused: the conflict is found first.
    again = await http.post("/v1/credentials", json=_hostile_body(pkcs8(shaped_pkcs1(16384))))
    assert_error(again, 409, "credential_exists")


async def test_healthz_answers_while_the_largest_key_is_checked(http: httpx.AsyncClient) -> None:
    key = rsa_key(4096)
    # The first key starts the checking processes; the measured one runs on a warm pool.
    warm = await http.post("/v1/credentials", json=signature_body(account_id="warm-up"))
    assert warm.status_code == 201, warm.text
    registering = asyncio.create_task(
        http.post("/v1/credentials", json=signature_body(account_id="big-key", key=key))
    )
    waits: list[float] = []
    while not registering.done():
        started = time.perf_counter()
        probe = await http.get("/healthz")
        waits.append(time.perf_counter() - started)
        assert probe.status_code == 200
        await asyncio.sleep(0.01)
    created = await registering
    assert created.status_code == 201, created.text
    assert max(waits) < HEALTHZ_BUDGET_SECONDS, f"slowest /healthz {max(waits):.3f} s"
    assert len(waits) >= 5, "the registration ended before the probes could overlap it"
