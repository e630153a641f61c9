"""mPorts' App Store app secrets as ``app.keys.rewrap`` sees them: a KEK rotation re-wraps them
like every other sealed value. Flushes, never commits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import WalmartApp
from app.connections.repository import AppRepository
from app.keys.binding import app_secret_binding
from app.keys.repository import SealedColumn, count_by_kek, count_not_on
from app.keys.rewrap import SealedValue


class SealedAppSecrets:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.column: SealedColumn = WalmartApp.sealed_secret

    async def count_by_kek(self) -> Counter[tuple[str, str]]:
        return await count_by_kek(self.session, WalmartApp.sealed_secret)

    async def count_not_on(self, prefix: str) -> int:
        return await count_not_on(self.session, WalmartApp.sealed_secret, prefix)

    async def not_on(self, prefix: str, limit: int) -> Sequence[SealedValue]:
        return [
            SealedValue(
                app.sealed_secret,
                app_secret_binding(app.id, app.secret_version, app.environment),
                partial(setattr, app, "sealed_secret"),
            )
            for app in await AppRepository(self.session).secrets_not_on(prefix, limit)
        ]
