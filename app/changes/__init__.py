"""How a change reaches every cache that depends on it, on every replica.

The database announces it. A migration (``2026-11-29-2210_announce_changes``) puts triggers on
the tables that caches depend on (``credentials``, ``credential_versions``, ``oauth_tokens``,
and ``api_clients`` for the columns callers are cached by, so a last-used stamp announces
nothing); on commit, PostgreSQL delivers ``NOTIFY vault_credential_changes,
'credential:<id>'`` or ``'client:<id>'`` to every replica's ``ChangeListener``. So a change made
by any path (the API, the CLI, a migration, SQL typed by hand) is announced, and no writer has
to remember to. The process that commits a change also announces it to itself at commit
(``announce_commits``, from what its session flushed), so its own next request never sees the
old entry, before the notification comes back; SQLite, which serves one process, has only
that. Every announcement goes to one place, ``ChangeFeed``, which drops what the caches hold.

The listener also vouches for what the caches read while it listens, so they need not re-read
it every bound: an entry read on the current listening connection stays trusted while that
connection has answered a ping started less than ``VAULT_CACHE_MAX_STALENESS_SECONDS`` ago. A
ping's answer comes after every notification committed before it was sent (PostgreSQL sends
pending notifications before it reports a command done, ReadyForQuery), so a change whose
notification was lost (a silently dead connection) is still seen within the bound: by then the
pings have failed or lapsed and the entry is rechecked like any other. See ``ChangeWatch``.

``feed`` holds the feed and the announcements at commit, ``listener`` the PostgreSQL side,
``watch`` what a cache asks before trusting an entry; their names are exported here.
"""

from __future__ import annotations

from app.changes.feed import WATCHED, ChangeFeed, announce_commits
from app.changes.listener import APPLICATION_NAME, CHANNEL, ChangeListener
from app.changes.watch import NOT_LISTENING, ChangeWatch, NotListening

__all__ = [
    "APPLICATION_NAME",
    "CHANNEL",
    "NOT_LISTENING",
    "WATCHED",
    "ChangeFeed",
    "ChangeListener",
    "ChangeWatch",
    "NotListening",
    "announce_commits",
]
