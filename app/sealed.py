"""Every column that holds sealed values, in one list: what ``vault-admin kek rewrap`` moves
to the active KEK and what ``vault-admin kek status`` counts. The database's data-key counts
(``/readyz``'s ``data_keys_on_old_keks``, ``vault_data_keys_on_old_keks``) come from triggers
on the same columns (migrations ``state_counts`` and ``count_app_and_webhook_keys``); a test
holds the two to the same set. A sealed column missing here stays on the old KEK, and
removing that KEK then makes its values unreadable.

The refresh tokens of App Store connections are their credential versions' sealed secrets.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.sealed import SealedAppSecrets
from app.credentials.sealed import SealedSecrets, SealedTokens
from app.keys.rewrap import SealedTable
from app.webhooks.sealed import SealedWebhookSecrets


def sealed_tables(session: AsyncSession) -> list[SealedTable]:
    """Every sealed column, in one session: credential secrets (signing keys, client secrets,
    refresh tokens), cached access tokens, App Store app secrets, webhook secrets current and
    previous."""
    return [
        SealedSecrets(session),
        SealedTokens(session),
        SealedAppSecrets(session),
        SealedWebhookSecrets(session),
        SealedWebhookSecrets(session, previous=True),
    ]
