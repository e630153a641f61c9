"""Counts that the database keeps current itself, so a scrape reads a few rows.

Triggers update ``state_counts`` in the transaction of every change, however it is made (API,
``vault-admin``, bulk import, SQL by hand); on PostgreSQL they run as the transaction commits
(migration ``counts_at_commit``), so a counter row is never held while a transaction is open:

* ``credentials`` / status: live credentials by status;
* ``data_keys`` / ``provider$key_id``: sealed values by the KEK that wraps their data key,
  over every column ``app.sealed`` lists (secrets of every version, cached tokens, App Store
  app secrets, webhook secrets current and previous; migration ``count_app_and_webhook_keys``
  added the last three).

Counting these per scrape read every credential and every sealed value: a third of a second
at 100,000 credentials, and more as the vault grows.

``kek_wraps`` counts the data keys each KEK has wrapped, ever (``app.ops.kek_usage``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime


class StateCount(Base):
    __tablename__ = "state_counts"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(560), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class KekWraps(Base):
    __tablename__ = "kek_wraps"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    wraps: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
