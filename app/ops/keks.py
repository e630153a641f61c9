"""Where the data keys are: counting sealed values per KEK, and re-wrapping them to the active one.

A KEK rotation never touches ciphertexts: ``rewrap`` unwraps each value's data key with the
KEK that wrapped it and wraps it again with the active KEK, in batches that each commit. A
batch selects only values not yet on the active KEK, so the job is idempotent and resumes
where a killed run stopped. The stored form names its KEK (``v1$provider$key_id$...``), so
"not on the active KEK" is a prefix comparison in SQL, with no side column to drift.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.changes import notify_change
from app.credentials.models import Credential, CredentialVersion
from app.credentials.secrets import TOKEN_PURPOSE, associated_data
from app.crypto import AssociatedData, Envelope
from app.walmart.models import OAuthToken


def active_prefix(envelope: Envelope) -> str:
    provider, key_id = envelope.active_kek
    return f"v1${provider}${key_id}$"


def _not_on(column: object, prefix: str) -> object:
    return func.substr(column, 1, len(prefix)) != prefix


async def kek_counts(session: AsyncSession) -> Counter[tuple[str, str]]:
    """Sealed values per (provider, key id), secrets and cached tokens together."""
    counts: Counter[tuple[str, str]] = Counter()
    postgres = session.get_bind().dialect.name == "postgresql"
    for column in (CredentialVersion.sealed_secret, OAuthToken.sealed_token):
        if postgres:
            # The database groups by the stored form's header: no value leaves it, so a
            # scrape at 100,000 credentials neither takes seconds nor grows the worker.
            provider, key_id = func.split_part(column, "$", 2), func.split_part(column, "$", 3)
            grouped = await session.execute(
                select(provider, key_id, func.count())
                .where(column.is_not(None))
                .group_by(provider, key_id)
            )
            for name, kid, count in grouped:
                counts[(name, kid)] += count
            continue
        rows = await session.stream_scalars(select(column).where(column.is_not(None)))
        async for sealed in rows:  # SQLite: the embedded, small-install case
            if sealed:
                counts[Envelope.kek_of(sealed)] += 1
    return counts


async def backlog(session: AsyncSession, envelope: Envelope) -> int:
    """How many sealed values are still on an older KEK."""
    prefix = active_prefix(envelope)
    total = 0
    for column in (CredentialVersion.sealed_secret, OAuthToken.sealed_token):
        query = select(func.count()).where(column.is_not(None), _not_on(column, prefix))  # type: ignore[arg-type]
        total += (await session.execute(query)).scalar_one()
    return total


async def rewrap_batch(session: AsyncSession, envelope: Envelope, *, size: int) -> int:
    """Re-wrap up to ``size`` values that are not on the active KEK; the number done."""
    prefix = active_prefix(envelope)
    done = 0
    async for row, aad in _secrets(session, prefix, size):
        row.sealed_secret = await envelope.rewrap(row.sealed_secret or "", aad=aad)
        # Replicas keep a current version's sealed secret while nothing changes: they must
        # drop the copy under the old KEK, which may be retired after this.
        await notify_change(session, row.credential_id)
        done += 1
    async for token, aad in _tokens(session, prefix, size - done):
        token.sealed_token = await envelope.rewrap(token.sealed_token, aad=aad)
        done += 1
    await session.flush()
    return done


async def _secrets(
    session: AsyncSession, prefix: str, limit: int
) -> AsyncIterator[tuple[CredentialVersion, AssociatedData]]:
    query = (
        select(CredentialVersion, Credential)
        .join(Credential, Credential.id == CredentialVersion.credential_id)
        .where(
            CredentialVersion.sealed_secret.is_not(None),
            _not_on(CredentialVersion.sealed_secret, prefix),  # type: ignore[arg-type]
        )
        .limit(limit)
        .with_for_update(of=CredentialVersion, skip_locked=True)
    )
    for version, credential in (await session.execute(query)).all():
        yield version, associated_data(credential, version.version)


async def _tokens(
    session: AsyncSession, prefix: str, limit: int
) -> AsyncIterator[tuple[OAuthToken, AssociatedData]]:
    if limit <= 0:
        return
    query = (
        select(OAuthToken, Credential)
        .join(Credential, Credential.id == OAuthToken.credential_id)
        .where(_not_on(OAuthToken.sealed_token, prefix))  # type: ignore[arg-type]
        .limit(limit)
        .with_for_update(of=OAuthToken, skip_locked=True)
    )
    for token, credential in (await session.execute(query)).all():
        yield token, associated_data(credential, token.version, TOKEN_PURPOSE)
