"""Keys are checked in a process pool: the same answer as in process, refusals without the
pool, a pool whose processes were killed is shut down and started afresh, and the owner of a
pool shuts it down."""

from __future__ import annotations

import os
import signal

import pytest

from app.crypto import InvalidPrivateKey, parse_private_key
from app.crypto.key_worker import key_check_pool, parse_private_key_in_worker
from tests.factories import pem_pkcs1, rsa_key, seller_center_key
from tests.hostile_keys import pkcs8, seller_center, shaped_pkcs1


async def test_same_key_and_fingerprint_as_in_process() -> None:
    text = pem_pkcs1(rsa_key(2048))
    checked = await parse_private_key_in_worker(text)
    assert checked.pkcs8_der == parse_private_key(text).pkcs8_der
    assert checked.fingerprint == parse_private_key(text).fingerprint
    assert checked.bits == 2048


async def test_out_of_bounds_key_is_refused_before_the_pool() -> None:
    with pytest.raises(InvalidPrivateKey, match="16384 bits"):
        await parse_private_key_in_worker(seller_center(pkcs8(shaped_pkcs1(16384))))


async def test_a_killed_pool_is_shut_down_and_started_again() -> None:
    text = seller_center_key(rsa_key())
    with key_check_pool() as pool:
        await parse_private_key_in_worker(text)
        broken = pool._executor
        assert broken is not None
        for pid in list(broken._processes):  # what an OOM killer or an operator might do
            os.kill(pid, signal.SIGKILL)
        parsed = await parse_private_key_in_worker(text)
        assert parsed.fingerprint == parse_private_key(text).fingerprint
        assert pool._executor is not broken
        assert broken._shutdown_thread  # shut down, not merely forgotten


async def test_the_owner_shuts_its_pool_down() -> None:
    with key_check_pool() as pool:
        await parse_private_key_in_worker(seller_center_key(rsa_key()))
        executor = pool._executor
        assert executor is not None
    assert executor._shutdown_thread
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit("any key")
