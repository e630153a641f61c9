"""Webhook endpoints' signing secrets as ``app.keys.rewrap`` sees them: the current secret and,
during a rotation's grace period, the previous one. A KEK rotation re-wraps both; leaving one
on the old KEK would break every signature once that KEK is removed. Flushes, never commits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from app.keys.binding import webhook_secret_binding
from app.keys.repository import SealedColumn, count_by_kek, count_not_on
from app.keys.rewrap import SealedValue
from app.webhooks.models import WebhookEndpoint
from app.webhooks.repository import WebhookRepository


class SealedWebhookSecrets:
    """One of the two secret columns: ``previous`` picks the one signing during a grace period,
    bound to the secret version before the endpoint's current one."""

    def __init__(self, session: AsyncSession, *, previous: bool = False) -> None:
        self.session = session
        self.previous = previous
        self.column: SealedColumn = (
            WebhookEndpoint.sealed_previous_secret if previous else WebhookEndpoint.sealed_secret
        )

    async def count_by_kek(self) -> Counter[tuple[str, str]]:
        return await count_by_kek(self.session, self.column)

    async def count_not_on(self, prefix: str) -> int:
        return await count_not_on(self.session, self.column, prefix)

    async def not_on(self, prefix: str, limit: int) -> Sequence[SealedValue]:
        endpoints = await WebhookRepository(self.session).secrets_not_on(self.column, prefix, limit)
        name = self.column.key
        return [
            SealedValue(
                getattr(endpoint, name),
                webhook_secret_binding(
                    endpoint.id, endpoint.secret_version - (1 if self.previous else 0)
                ),
                partial(setattr, endpoint, name),
            )
            for endpoint in endpoints
        ]
