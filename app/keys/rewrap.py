"""Where the data keys are: counting sealed values per KEK, and re-wrapping them to the active one.

A KEK rotation never touches ciphertexts: ``rewrap_batch`` unwraps each value's data key with
the KEK that wrapped it and wraps it again with the active KEK, in batches that each commit. A
batch takes only values not yet on the active KEK, so the job is idempotent and resumes where
a killed run stopped. The tables that hold sealed values (credential versions, stored tokens)
take part through their repositories, as ``SealedTable``s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.crypto import AssociatedData, Envelope
from app.keys.repository import SealedColumn


@dataclass(frozen=True, slots=True, repr=False)
class SealedValue:
    """One stored value, with the binding it opens under and how to store its new form."""

    sealed: str
    aad: AssociatedData
    store: Callable[[str], None]


class SealedTable(Protocol):
    @property
    def column(self) -> SealedColumn:
        """The mapped column holding the sealed values."""

    async def count_by_kek(self) -> Counter[tuple[str, str]]: ...

    async def count_not_on(self, prefix: str) -> int: ...

    async def not_on(self, prefix: str, limit: int) -> Sequence[SealedValue]:
        """Up to ``limit`` values not starting with ``prefix``, locked for this transaction."""


def active_prefix(envelope: Envelope) -> str:
    provider, key_id = envelope.active_kek
    return f"v1${provider}${key_id}$"


async def kek_counts(tables: Sequence[SealedTable]) -> Counter[tuple[str, str]]:
    """Sealed values per (provider, key id), over every table."""
    counts: Counter[tuple[str, str]] = Counter()
    for table in tables:
        counts.update(await table.count_by_kek())
    return counts


async def backlog(tables: Sequence[SealedTable], envelope: Envelope) -> int:
    """How many sealed values are still on an older KEK."""
    prefix = active_prefix(envelope)
    return sum([await table.count_not_on(prefix) for table in tables])


async def rewrap_batch(tables: Sequence[SealedTable], envelope: Envelope, *, size: int) -> int:
    """Re-wrap up to ``size`` values that are not on the active KEK; the number done. The
    caller's transaction commits them."""
    prefix = active_prefix(envelope)
    done = 0
    for table in tables:
        if done >= size:
            break
        for value in await table.not_on(prefix, size - done):
            value.store(await envelope.rewrap(value.sealed, aad=value.aad))
            done += 1
    return done
