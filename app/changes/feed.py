"""Where every announced change goes (``ChangeFeed``), and the announcements a process makes to
itself at commit, from what its sessions flushed (``announce_commits``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

# What each table's changes mean to the caches: (kind announced, column naming the id, the
# columns that matter: None for all). The migration's triggers follow the same table.
WATCHED: dict[str, tuple[str, str, frozenset[str] | None]] = {
    "credentials": ("credential", "id", None),
    "credential_versions": ("credential", "credential_id", None),
    "oauth_tokens": ("credential", "credential_id", None),
    "api_clients": (
        "client",
        "id",
        frozenset({"token_hash", "revoked_at", "scopes", "account_ids", "name"}),
    ),
}
_PENDING = "vault_announced_changes"  # in a session's ``info``: what its transaction changed


class ChangeFeed:
    """The one place that reacts to a change: it calls the handler of the change's kind."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[uuid.UUID], None]] = {}

    def on(self, kind: str, handler: Callable[[uuid.UUID], None]) -> None:
        self.handlers[kind] = handler

    def announce(self, kind: str, changed: uuid.UUID) -> None:
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(changed)

    def announce_payload(self, payload: str) -> None:
        """A notification's payload, ``kind:uuid``; anything else is ignored."""
        kind, _, value = payload.partition(":")
        try:
            changed = uuid.UUID(value)
        except ValueError:
            return
        self.announce(kind, changed)


def announce_commits(sessionmaker: async_sessionmaker[AsyncSession], feed: ChangeFeed) -> None:
    """Announce to ``feed`` what each committed session of ``sessionmaker`` changed in the
    watched tables (ORM writes: bulk statements on those tables are not seen here)."""
    # A session class of its own: several apps in one process (tests) each have their feed.
    announcing: type[Session] = type("AnnouncingSession", (Session,), {})
    sessionmaker.configure(sync_session_class=announcing)

    def flushed(session: Session, _context: object) -> None:
        pending: set[tuple[str, uuid.UUID]] = session.info.setdefault(_PENDING, set())
        for instance, dirty in _touched(session):
            watched = WATCHED.get(getattr(type(instance), "__tablename__", ""))
            if watched is None:
                continue
            kind, id_column, columns = watched
            state = inspect(instance)
            if (
                dirty
                and columns is not None
                and not any(state.attrs[name].history.has_changes() for name in columns)
            ):
                continue
            changed = getattr(instance, id_column)
            if isinstance(changed, uuid.UUID):
                pending.add((kind, changed))

    def committed(session: Session) -> None:
        for kind, changed in session.info.pop(_PENDING, set()):
            feed.announce(kind, changed)

    def rolled_back(session: Session) -> None:
        session.info.pop(_PENDING, None)

    event.listen(announcing, "after_flush", flushed)
    event.listen(announcing, "after_commit", committed)
    event.listen(announcing, "after_rollback", rolled_back)


def _touched(session: Session) -> list[tuple[object, bool]]:
    return [
        *((i, False) for i in session.new),
        *((i, True) for i in session.dirty),
        *((i, False) for i in session.deleted),
    ]
