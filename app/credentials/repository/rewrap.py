"""SQL for a KEK rotation's batches over the credential tables: sealed values not yet on the
active KEK, each with the credential row its binding names, locked for the batch's transaction
(another replica's batch skips them). Flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.credentials.models import Credential, CredentialVersion
from app.keys.repository import not_on
from app.walmart.models import OAuthToken


async def versions_not_on(
    session: AsyncSession, prefix: str, limit: int
) -> Sequence[tuple[CredentialVersion, Credential]]:
    query = (
        select(CredentialVersion, Credential)
        .join(Credential, Credential.id == CredentialVersion.credential_id)
        .where(
            CredentialVersion.sealed_secret.is_not(None),
            not_on(CredentialVersion.sealed_secret, prefix),
        )
        .limit(limit)
        # The credential too: rewrapping its current version makes the database's trigger
        # update its row (the sealed secret's copy). Taken here, skipped when busy, a rotation
        # holding the credential and waiting for this version cannot deadlock with the batch.
        # NO KEY UPDATE: foreign-key checks (a token stored, a version added) need not wait.
        .with_for_update(of=(CredentialVersion, Credential), skip_locked=True, key_share=True)
    )
    return [(version, credential) for version, credential in await session.execute(query)]


async def tokens_not_on(
    session: AsyncSession, prefix: str, limit: int
) -> Sequence[tuple[OAuthToken, Credential]]:
    query = (
        select(OAuthToken, Credential)
        .join(Credential, Credential.id == OAuthToken.credential_id)
        .where(not_on(OAuthToken.sealed_token, prefix))
        .limit(limit)
        .with_for_update(of=OAuthToken, skip_locked=True)
    )
    return [(token, credential) for token, credential in await session.execute(query)]
