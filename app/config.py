"""Settings: read once from the environment (prefix ``VAULT_``) and ``.env``, then passed in.

Nothing else in the service reads ``os.environ``: ``create_app(settings)`` receives a built
``Settings`` and hands it to whatever needs it, so tests build their own without touching the
process environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.crypto.secret_strength import too_weak


class ConfigurationError(RuntimeError):
    """The settings cannot run a service; the message names the variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VAULT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A refused value may be a secret (a token too short): errors name the setting only.
        hide_input_in_errors=True,
    )

    env: Literal["development", "production"] = "production"
    database_url: str = "sqlite+aiosqlite:///./var/vault.db"
    database_timeout_seconds: float = Field(default=5.0, gt=0)
    bootstrap_token: SecretStr | None = None
    # When set, ``GET /metrics`` answers only "Authorization: Bearer <this token>".
    metrics_token: SecretStr | None = None

    kek_provider: Literal["local", "aws-kms", "transit"] = "local"
    local_keks: SecretStr | None = None
    aws_kms_key_id: str | None = None
    aws_kms_region: str | None = None
    aws_kms_endpoint_url: str | None = None
    transit_address: str | None = None
    transit_token: SecretStr | None = None
    transit_key: str | None = None
    transit_mount: str = "transit"
    transit_namespace: str | None = None
    kek_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    dek_cache_size: int = Field(default=1024, ge=0)
    dek_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    dev_keks_file: Path = Path("./var/dev-keks")
    dev_token_file: Path = Path("./var/dev-admin-token")

    walmart_production_url: AnyHttpUrl = AnyHttpUrl("https://marketplace.walmartapis.com")
    walmart_sandbox_url: AnyHttpUrl = AnyHttpUrl("https://sandbox.walmartapis.com")
    # Only for a test environment (the Walmart simulator on loopback): an http:// base URL
    # sends the client secret in cleartext Basic auth, so production refuses one otherwise.
    walmart_allow_http: bool = False
    walmart_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The proxy's own connections to Walmart (apart from token fetches, live tests and
    # webhooks), the proxied calls one API client may have open at once (per replica), and how
    # long the proxy waits for each next chunk of a caller's request body.
    proxy_max_connections: int = Field(default=100, ge=1, le=1000)
    proxy_calls_per_client: int = Field(default=16, ge=1, le=1000)
    proxy_body_idle_seconds: float = Field(default=10.0, gt=0, le=300)
    svc_name: str = Field(default="Walmart Marketplace", min_length=1, max_length=100)
    # Where sellers' browsers reach the vault's public pages (the App Store callback).
    public_url: AnyHttpUrl | None = None
    # Hand-over links: whom the seller's page tells them to ask when a link no longer works,
    # and how many submissions one link / one address may make per minute (per replica).
    intake_contact: str = Field(
        default="the person at mPorts who sent you this link", min_length=1, max_length=300
    )
    intake_submissions_per_link_per_minute: int = Field(default=3, ge=1, le=100)
    intake_submissions_per_address_per_minute: int = Field(default=10, ge=1, le=1000)
    walmart_consent_url: AnyHttpUrl = AnyHttpUrl("https://login.account.wal-mart.com/consent")
    connection_link_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Comma list of origins (scheme://host[:port]) a connection's return_url may point at.
    connection_return_origins: str = ""
    token_refresh_margin_seconds: float = Field(default=120, ge=0, le=600)
    signature_validity_seconds: int = Field(default=300, ge=10, le=900)
    cache_max_staleness_seconds: float = Field(default=2.0, gt=0, le=300)
    cache_outage_grace_seconds: float = Field(default=30.0, ge=0, le=600)
    snapshot_cache_size: int = Field(default=10_000, ge=1)
    key_cache_mb: float = Field(default=40, ge=1)
    audit_flush_seconds: float = Field(default=1.0, gt=0, le=1.0)
    version_retention: int = Field(default=1, ge=0, le=10)
    retest_interval_seconds: float = Field(default=6 * 3600, ge=0)
    retest_concurrency: int = Field(default=4, ge=1, le=64)

    # Webhooks: hosts deliveries may go to (comma list, "*.example.com" for sub-domains).
    webhook_allowed_hosts: str = ""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=30)
    webhook_first_retry_seconds: float = Field(default=5.0, gt=0, le=10)
    webhook_disable_after_seconds: float = Field(default=3 * 86400, ge=0)
    webhook_secret_grace_seconds: float = Field(default=86400, ge=0, le=7 * 86400)
    webhook_batch_size: int = Field(default=20, ge=1, le=200)
    webhook_retention_days: float = Field(default=30, gt=0)
    # How often to look for App Store refresh tokens 30 or 7 days from their end (0: never).
    refresh_expiry_check_seconds: float = Field(default=3600, ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Set by ``app.serve`` when it runs several workers (with PROMETHEUS_MULTIPROC_DIR).
    metrics_dir: Path | None = None

    @field_validator("bootstrap_token", "metrics_token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(f"VAULT_{str(info.field_name).upper()} must be at least 32 characters")
        return value

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def webhook_hosts(self) -> frozenset[str]:
        entries = self.webhook_allowed_hosts.split(",")
        return frozenset(h.strip().lower().rstrip(".") for h in entries if h.strip())

    def walmart_base_url(self, environment: str) -> str:
        """The configured base URL for a credential's environment, without a trailing slash."""
        url = (
            self.walmart_production_url if environment == "production" else self.walmart_sandbox_url
        )
        return str(url).rstrip("/")

    def public_base_url(self) -> str | None:
        """``VAULT_PUBLIC_URL`` without a trailing slash; in development it defaults to the
        address ``make run`` serves on. ``None`` in production when it is not set."""
        if self.public_url is not None:
            return str(self.public_url).rstrip("/")
        return "http://127.0.0.1:8000" if self.is_development else None

    def return_origins(self) -> frozenset[str]:
        return frozenset(
            origin.strip().rstrip("/").lower()
            for origin in self.connection_return_origins.split(",")
            if origin.strip()
        )

    def check_runnable(self) -> None:
        """Refuse configurations that must never serve traffic, naming what is missing."""
        required: dict[str, dict[str, object]] = {
            "aws-kms": {
                "VAULT_AWS_KMS_KEY_ID": self.aws_kms_key_id,
                "VAULT_AWS_KMS_REGION": self.aws_kms_region,
            },
            "transit": {
                "VAULT_TRANSIT_ADDRESS": self.transit_address,
                "VAULT_TRANSIT_TOKEN": self.transit_token,
                "VAULT_TRANSIT_KEY": self.transit_key,
            },
        }
        needed = required.get(self.kek_provider, {})
        missing = [name for name, value in needed.items() if value is None]
        if missing:
            raise ConfigurationError(
                f"VAULT_KEK_PROVIDER={self.kek_provider} needs {', '.join(missing)}"
            )
        if self.kek_provider == "local" and self.local_keks is None and not self.is_development:
            raise ConfigurationError(
                "VAULT_ENV=production needs an explicit KEK: set VAULT_LOCAL_KEKS "
                "(or VAULT_KEK_PROVIDER=aws-kms / transit with its settings)"
            )
        if not self.is_development:
            self._check_production_secrets()

    def _check_production_secrets(self) -> None:
        tokens = {
            "VAULT_BOOTSTRAP_TOKEN": self.bootstrap_token,
            "VAULT_METRICS_TOKEN": self.metrics_token,
        }
        for name, token in tokens.items():
            reason = None if token is None else too_weak(token.get_secret_value())
            if reason is not None:
                raise ConfigurationError(
                    f"{name} {reason}; generate one with: python -c "
                    '"import secrets; print(secrets.token_urlsafe(32))"'
                )
        urls = {
            "VAULT_WALMART_PRODUCTION_URL": self.walmart_production_url,
            "VAULT_WALMART_SANDBOX_URL": self.walmart_sandbox_url,
        }
        for name, url in urls.items():
            # Read as text: a copy made with model_copy(update=...) holds the value unvalidated.
            if urlsplit(str(url)).scheme.lower() != "https" and not self.walmart_allow_http:
                raise ConfigurationError(
                    f"{name} must be an https:// URL in production: the client secret travels "
                    "in its Basic auth (VAULT_WALMART_ALLOW_HTTP=true allows http:// for a test "
                    "environment only)"
                )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built on first use (the ASGI entry point and the CLI)."""
    return Settings()
