"""Making sure someone can administer the vault once it starts.

- ``VAULT_BOOTSTRAP_TOKEN`` set: the ``bootstrap`` admin client holds exactly that token.
- production without it: an admin client must already exist, or the service refuses to start.
- development without it: an admin token is generated once into ``VAULT_DEV_TOKEN_FILE``
  (mode 0600) and reused, so ``make run`` on a fresh clone hands out a working token.
"""

from __future__ import annotations

import logging
import os

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clients.service import ensure_bootstrap_client, has_live_admin
from app.config import ConfigurationError, Settings
from app.crypto import new_token
from app.db import transaction

log = logging.getLogger("vault.startup")


async def prepare_callers(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(3):
        try:
            await _prepare_callers(settings, sessionmaker)
            return
        except IntegrityError:
            # Replicas starting together raced to create the bootstrap client; one won, and
            # looking again finds its row.
            continue
    await _prepare_callers(settings, sessionmaker)


async def _prepare_callers(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessionmaker) as session:
        if settings.bootstrap_token is not None:
            await ensure_bootstrap_client(
                session, token=settings.bootstrap_token.get_secret_value()
            )
        elif settings.is_development:
            await ensure_bootstrap_client(session, token=_development_token(settings))
            log.warning("development admin token is in %s", settings.dev_token_file)
        elif not await has_live_admin(session):
            raise ConfigurationError(
                "VAULT_ENV=production needs VAULT_BOOTSTRAP_TOKEN (at least 32 characters) "
                "or an existing admin client (vault-admin clients create --scope admin)"
            )


def _development_token(settings: Settings) -> str:
    path = settings.dev_token_file
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = new_token()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token
