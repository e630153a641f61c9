"""Builds the configured KEK provider (the key-encryption keys behind every sealed value).

In development with no ``VAULT_LOCAL_KEKS`` a keyring is generated once into
``VAULT_DEV_KEKS_FILE`` (mode 0600) and reused, so a fresh clone runs with real encryption and
restarts keep opening what they sealed. Production never generates keys.
"""

from __future__ import annotations

import logging
import os

from app.config import ConfigurationError, Settings
from app.crypto import Envelope, KeyringConfigError, LocalKeyring

log = logging.getLogger("vault.kek")


def build_envelope(settings: Settings) -> Envelope:
    if settings.kek_provider != "local":
        raise ConfigurationError(
            f"VAULT_KEK_PROVIDER={settings.kek_provider} is not available in this build"
        )
    return Envelope(_local_keyring(settings))


def _local_keyring(settings: Settings) -> LocalKeyring:
    if settings.local_keks is not None:
        spec, source = settings.local_keks.get_secret_value(), "VAULT_LOCAL_KEKS"
    elif settings.is_development:
        spec, source = _development_spec(settings), str(settings.dev_keks_file)
    else:
        raise ConfigurationError("VAULT_ENV=production needs VAULT_LOCAL_KEKS")
    try:
        return LocalKeyring.parse(spec)
    except KeyringConfigError as exc:
        raise ConfigurationError(f"{source}: {exc}") from None


def _development_spec(settings: Settings) -> str:
    path = settings.dev_keks_file
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = LocalKeyring.generate_spec("dev-1")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(spec + "\n")
    log.warning("generated a development KEK into %s (never use it in production)", path)
    return spec
