"""Credential versions' secrets and stored access tokens as ``app.keys.rewrap`` sees them
(``app.sealed`` lists every sealed column). Each binds its values to their credential row,
so both read it along (``app.credentials.repository.rewrap``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from app.credentials.models import CredentialVersion
from app.credentials.repository.rewrap import tokens_not_on, versions_not_on
from app.keys.binding import TOKEN_PURPOSE, associated_data
from app.keys.repository import SealedColumn, count_by_kek, count_not_on
from app.keys.rewrap import SealedValue
from app.walmart.models import OAuthToken


class SealedSecrets:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.column: SealedColumn = CredentialVersion.sealed_secret

    async def count_by_kek(self) -> Counter[tuple[str, str]]:
        return await count_by_kek(self.session, CredentialVersion.sealed_secret)

    async def count_not_on(self, prefix: str) -> int:
        return await count_not_on(self.session, CredentialVersion.sealed_secret, prefix)

    async def not_on(self, prefix: str, limit: int) -> Sequence[SealedValue]:
        return [
            SealedValue(
                version.sealed_secret or "",
                associated_data(credential, version.version),
                partial(setattr, version, "sealed_secret"),
            )
            for version, credential in await versions_not_on(self.session, prefix, limit)
        ]


class SealedTokens:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.column: SealedColumn = OAuthToken.sealed_token

    async def count_by_kek(self) -> Counter[tuple[str, str]]:
        return await count_by_kek(self.session, OAuthToken.sealed_token)

    async def count_not_on(self, prefix: str) -> int:
        return await count_not_on(self.session, OAuthToken.sealed_token, prefix)

    async def not_on(self, prefix: str, limit: int) -> Sequence[SealedValue]:
        return [
            SealedValue(
                token.sealed_token,
                associated_data(credential, token.version, TOKEN_PURPOSE),
                partial(setattr, token, "sealed_token"),
            )
            for token, credential in await tokens_not_on(self.session, prefix, limit)
        ]
