"""One serving process per SQLite database file.

SQLite is the embedded store: the caches of one process are kept true by its own writes, and
no other process announces its changes (PostgreSQL's triggers do that). ``python -m app.serve``
refuses a second worker, but ``uvicorn app.main:app --workers 2`` or a second ``make run``
would start one anyway. So a serving process holds an exclusive ``flock`` on a file beside the
database for as long as it serves, and a second process stops at start with an error that
says why. Apps within one process share the lock (the tests run several, on purpose). The CLI
takes no lock: it runs beside the server, as SQLite allows.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from app.db import ensure_sqlite_directory, is_sqlite


class SqliteInUse(RuntimeError):
    pass


_held: dict[Path, tuple[IO[bytes], int]] = {}  # lock file -> (open file, apps serving)
_guard = threading.Lock()


@contextmanager
def serving_sqlite_alone(url: str) -> Iterator[None]:
    """Hold the database's serving lock (nothing for PostgreSQL or an in-memory database)."""
    database = make_url(url).database if is_sqlite(url) else None
    if not database or database == ":memory:":
        yield
        return
    ensure_sqlite_directory(url)
    path = Path(database)
    lock_path = path.parent.resolve() / f"{path.name}.serving-lock"  # the link itself is not
    _acquire(lock_path, database)
    try:
        yield
    finally:
        _release(lock_path)


def _acquire(lock_path: Path, database: str) -> None:
    with _guard:
        if lock_path in _held:
            lock, apps = _held[lock_path]
            _held[lock_path] = (lock, apps + 1)
            return
        lock = _open_own_file(lock_path)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise SqliteInUse(
                f"Another vault process is already serving the SQLite database {database} "
                f"(its lock file {lock_path} is held). SQLite serves one process: its workers "
                "would not see each other's changes. Run one worker, or use PostgreSQL "
                "(VAULT_DATABASE_URL=postgresql+asyncpg://...) for several workers or replicas."
            ) from None
        _held[lock_path] = (lock, 1)


def _open_own_file(lock_path: Path) -> IO[bytes]:
    """The lock file, readable by this user alone (anyone who can open it can hold the lock),
    never through a link planted in its place, and refused unless it is this user's own."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(lock_path, flags, 0o600)
    except OSError as exc:
        raise SqliteInUse(
            f"The SQLite lock file {lock_path} cannot be opened: {exc.strerror}."
        ) from exc
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
        os.close(descriptor)
        raise SqliteInUse(
            f"The SQLite lock file {lock_path} is not a file of this user's: remove it, "
            "then start the vault again."
        )
    os.fchmod(descriptor, 0o600)  # one left by an earlier version may be readable by all
    return os.fdopen(descriptor, "r+b")


def _release(lock_path: Path) -> None:
    with _guard:
        lock, apps = _held.pop(lock_path)
        if apps > 1:
            _held[lock_path] = (lock, apps - 1)
        else:
            lock.close()  # closing the file releases the flock
