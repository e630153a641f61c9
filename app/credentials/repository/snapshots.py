"""SQL of the hot path's one read: the row behind a ``CredentialSnapshot`` (the credential's
public half, its current version's sealed secret, which the credential row carries, and its
shared token's fetch time), by id, by a batch of ids, or by slot. ``app.headers.reader`` runs
these statements, on PostgreSQL on an asyncpg pool of its own; they select ``ROW_FIELDS`` in
order, and nothing else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Uuid, bindparam, func, literal_column, select, true
from sqlalchemy.dialects.postgresql import ARRAY

from app.credentials.models import Credential
from app.keys.snapshot import ROW_FIELDS
from app.walmart.models import OAuthToken

RowQuery = Select[*tuple[Any, ...]]

# Where the read finds each snapshot field: the credential's column of the same name, unless
# it is named here.
_READ_FROM = {
    "version": Credential.current_version,
    "token_fetched_at": OAuthToken.fetched_at,
    "sealed_secret": Credential.current_sealed_secret,
}
COLUMNS = tuple(
    _READ_FROM[name] if name in _READ_FROM else getattr(Credential, name) for name in ROW_FIELDS
)


def _statement(condition: Any, *, live_only: bool = True) -> RowQuery:
    """The row behind a snapshot, for ``condition`` (and only a live credential's, unless the
    caller filters deleted ones itself: see ``BY_IDS``)."""
    query = (
        select(*COLUMNS)
        .outerjoin(OAuthToken, OAuthToken.credential_id == Credential.id)
        .where(condition)
    )
    return query.where(Credential.deleted_at.is_(None)) if live_only else query


BY_ID = _statement(Credential.id == bindparam("credential_id"))
_WANTED = (
    func.unnest(bindparam("credential_ids", type_=ARRAY(Uuid)))
    .table_valued("id")
    .render_derived(name="wanted")
)
# Each id looked up on its own, by primary key, and nothing else: a LATERAL subquery that
# LIMIT 1 keeps from being flattened into a join, whose rows are told live or deleted outside
# it. "deleted_at IS NULL" inside would let the planner pick the partial live-slot index
# instead, filtering every entry by id: with stale statistics (a bulk load, a new server) it
# did, for every lookup (as a join, and with ``id = ANY($1)``, too). The reader plans this
# once per connection (a generic plan), so its plan must not hang on statistics. The limit is
# written as a literal: as a bound parameter it would need a value the reader does not pass.
_FOUND = (
    _statement(Credential.id == _WANTED.c.id, live_only=False)
    .add_columns(Credential.deleted_at)
    .limit(literal_column("1"))
    .lateral("found")
)
BY_IDS: RowQuery = (
    select(*list(_FOUND.c)[:-1])  # the snapshot's columns, without deleted_at
    .select_from(_WANTED.join(_FOUND, true()))
    .where(_FOUND.c.deleted_at.is_(None))
)
BY_SLOT = _statement(
    (Credential.account_id == bindparam("account_id"))
    & (Credential.market == bindparam("market"))
    & (Credential.environment == bindparam("environment"))
)
