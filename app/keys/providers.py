"""Builds the configured KEK providers (the key-encryption keys behind every sealed value).

The active provider (``VAULT_KEK_PROVIDER``) wraps every new data key. A local keyring that is
configured beside an external provider stays available for opening what it wrapped before, so
moving from the local keyring to AWS KMS or Transit is: configure the new provider, keep
``VAULT_LOCAL_KEKS``, run ``vault-admin kek rewrap``, then drop ``VAULT_LOCAL_KEKS``.

In development with no ``VAULT_LOCAL_KEKS`` a keyring is generated once into
``VAULT_DEV_KEKS_FILE`` (mode 0600) and reused, so a fresh clone runs with real encryption and
restarts keep opening what they sealed. Production never generates keys.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from app.config import ConfigurationError, Settings
from app.crypto import Envelope, KekProvider, KeyringConfigError, LocalKeyring

log = logging.getLogger("vault.kek")


@dataclass
class KekSetup:
    envelope: Envelope
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        for close in self.closers:
            await close()


def build_envelope(settings: Settings) -> KekSetup:
    settings.check_runnable()
    local = _local_keyring(settings)
    if settings.kek_provider == "local":
        assert local is not None  # noqa: S101  (check_runnable or development guarantee it)
        return KekSetup(_envelope(settings, local, []))
    closers: list[Callable[[], Awaitable[None]]] = []
    active: KekProvider
    if settings.kek_provider == "aws-kms":
        from app.crypto.aws_kms import AwsKmsProvider  # boto3 loads only when configured

        kms = AwsKmsProvider(
            key_id=settings.aws_kms_key_id or "",
            region=settings.aws_kms_region or "",
            endpoint_url=settings.aws_kms_endpoint_url,
            timeout=settings.kek_timeout_seconds,
        )
        active = kms
        closers.append(kms.aclose)
    else:
        from app.crypto.transit import TransitProvider

        transit = TransitProvider(
            address=settings.transit_address or "",
            token=settings.transit_token.get_secret_value() if settings.transit_token else "",
            key_name=settings.transit_key or "",
            mount=settings.transit_mount,
            namespace=settings.transit_namespace,
            timeout=settings.kek_timeout_seconds,
        )
        active = transit
        closers.append(transit.aclose)
    others = [local] if local is not None else []
    return KekSetup(_envelope(settings, active, others), closers)


def _envelope(settings: Settings, active: KekProvider, others: Sequence[KekProvider]) -> Envelope:
    return Envelope(
        active,
        others=others,
        dek_cache_size=settings.dek_cache_size,
        dek_cache_ttl=settings.dek_cache_ttl_seconds,
    )


def _local_keyring(settings: Settings) -> LocalKeyring | None:
    if settings.local_keks is not None:
        spec, source = settings.local_keks.get_secret_value(), "VAULT_LOCAL_KEKS"
    elif settings.is_development and settings.kek_provider == "local":
        spec, source = _development_spec(settings), str(settings.dev_keks_file)
    else:
        return None
    try:
        return LocalKeyring.parse(spec, refuse_weak=not settings.is_development)
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
