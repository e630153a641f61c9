"""Validating pasted private keys in a separate process, so no worker stops answering.

``cryptography`` checks an RSA key as it loads it (both primes, among other things) and holds
the GIL all the while, for a large fraction of a second on the largest keys ``key_bounds``
lets through. In a thread that would still stop the event loop, /healthz included, for as
long. So the full, checked parse runs in a small process pool; the event loop only screens the
key's size first (microseconds, ``key_bounds``) and afterwards loads the checked PKCS#8 DER
without checking it again, as ``load_sealed_pkcs8`` does for sealed keys.

Who runs the vault owns the pool: the app's lifespan and the CLI's context each hold a
``key_check_pool()`` for as long as they run, and shut it down when they end; parsing outside
one is a programming error. Its processes start on first use (most processes never parse a
key), with the ``forkserver`` method: forking a process that runs an event loop and database
threads is unsafe, and every worker is then forked by the forkserver's one thread, which
``PR_SET_PDEATHSIG`` needs (the signal follows the thread that forked, not the process).

A clean shutdown is not the only way out: an owner killed outright (SIGKILL, the OOM killer)
runs no ``finally`` and no ``atexit``. Its workers would wait on their task queue forever, and
the forkserver with them: it exits when the "alive" pipe from its parent reaches end of file,
but every process it forks holds a copy of that pipe. So each worker watches the owner's pid
(a pidfd) and exits when the owner has gone; the last copy of the pipe closes and the
forkserver exits too. ``PR_SET_PDEATHSIG`` covers the other order: a worker whose forkserver
is killed is killed by the kernel.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import select
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from app.crypto.private_keys import (
    InvalidPrivateKey,
    ParsedPrivateKey,
    load_sealed_pkcs8,
    parse_private_key,
    public_key_fingerprint,
    screen_private_key,
)

POOL_PROCESSES = 2
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _checked_pkcs8(text: str) -> bytes:
    """In a pool process: the full parse, returning the normalised PKCS#8 DER."""
    return parse_private_key(text).pkcs8_der


def _die_with(owner_pid: int) -> None:
    """In a pool process, first: end when the forkserver or the owner ends, however they end."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    try:
        owner = os.pidfd_open(owner_pid)
    except ProcessLookupError:  # the owner died before this process got here
        os._exit(1)
    threading.Thread(target=_exit_when_readable, args=(owner,), daemon=True).start()


def _exit_when_readable(pidfd: int) -> None:
    """A pidfd turns readable when its process has ended."""
    select.select([pidfd], [], [])
    os._exit(1)


class KeyCheckPool:
    """The process pool of one owner, started on first use and replaced when broken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def submit(self, text: str) -> tuple[ProcessPoolExecutor, Future[bytes]]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the key-check pool was shut down")
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["app.crypto.private_keys"])
                self._executor = ProcessPoolExecutor(
                    POOL_PROCESSES,
                    mp_context=context,
                    initializer=_die_with,
                    initargs=(os.getpid(),),
                )
            executor = self._executor
            return executor, executor.submit(_checked_pkcs8, text)

    def drop_broken(self, broken: ProcessPoolExecutor) -> None:
        """A pool process died: shut the broken pool down (its manager thread, queues and
        the processes still alive) so the next call starts a new one."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


_owners: list[KeyCheckPool] = []


@contextmanager
def key_check_pool() -> Iterator[KeyCheckPool]:
    """The pool that ``parse_private_key_in_worker`` uses while this block runs."""
    pool = KeyCheckPool()
    _owners.append(pool)
    try:
        yield pool
    finally:
        _owners.remove(pool)
        pool.close()


def _current_pool() -> KeyCheckPool:
    if not _owners:
        raise RuntimeError("parse_private_key_in_worker needs a running key_check_pool()")
    return _owners[-1]


async def parse_private_key_in_worker(text: str) -> ParsedPrivateKey:
    """``parse_private_key`` with its expensive part in another process; refusals of keys
    outside the bounds are immediate."""
    screen_private_key(text)
    pool = _current_pool()
    for attempt in range(2):
        # Starting the pool's processes takes a while: not on the event loop.
        executor, future = await asyncio.to_thread(pool.submit, text)
        try:
            der = await asyncio.wrap_future(future)
            break
        except BrokenProcessPool:
            # A pool process died (killed by an operator or the OOM killer): start afresh once.
            pool.drop_broken(executor)
            if attempt:
                raise
    key = load_sealed_pkcs8(der)
    return ParsedPrivateKey(key, der, public_key_fingerprint(key.public_key()), key.key_size)


__all__ = ["InvalidPrivateKey", "KeyCheckPool", "key_check_pool", "parse_private_key_in_worker"]
