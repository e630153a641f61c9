"""Validating pasted private keys in a separate process, so no worker stops answering.

``cryptography`` checks an RSA key as it loads it (both primes, among other things) and holds
the GIL all the while: about 0.6 s for a 4,096-bit key, the largest ``key_bounds`` lets
through. In a thread that would still stop the event loop, /healthz included, for as long.
So the full, checked parse runs in a small process pool; the event loop only screens the key's
size first (microseconds, ``key_bounds``) and afterwards loads the checked PKCS#8 DER without
checking it again, as ``load_sealed_pkcs8`` does for sealed keys.

The pool is started on first use, from a thread (starting processes takes a while), with the
``forkserver`` method: forking a process that runs an event loop and database threads is
unsafe. It lives as long as the process; the standard library stops it at exit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from app.crypto.private_keys import (
    InvalidPrivateKey,
    ParsedPrivateKey,
    load_sealed_pkcs8,
    parse_private_key,
    public_key_fingerprint,
    screen_private_key,
)

POOL_PROCESSES = 2
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _checked_pkcs8(text: str) -> bytes:
    """In a pool process: the full parse, returning the normalised PKCS#8 DER."""
    return parse_private_key(text).pkcs8_der


def _submit(text: str) -> Future[bytes]:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["app.crypto.private_keys"])
            _pool = ProcessPoolExecutor(POOL_PROCESSES, mp_context=context)
        return _pool.submit(_checked_pkcs8, text)


def _drop_broken_pool() -> None:
    global _pool
    with _lock:
        _pool = None


async def parse_private_key_in_worker(text: str) -> ParsedPrivateKey:
    """``parse_private_key`` with its expensive part in another process; refusals of keys
    outside the bounds are immediate."""
    screen_private_key(text)
    for attempt in range(2):
        try:
            der = await asyncio.wrap_future(await asyncio.to_thread(_submit, text))
            break
        except BrokenProcessPool:
            # A pool process died (killed by an operator or the OOM killer): start afresh once.
            _drop_broken_pool()
            if attempt:
                raise
    key = load_sealed_pkcs8(der)
    return ParsedPrivateKey(key, der, public_key_fingerprint(key.public_key()), key.key_size)


__all__ = ["InvalidPrivateKey", "parse_private_key_in_worker"]
