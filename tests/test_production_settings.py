"""Production refuses predictable secrets and cleartext Walmart URLs, naming the setting; tests
and development allow http:// only when they say so."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

from app.config import ConfigurationError, Settings
from app.keys.providers import build_envelope
from tests.test_startup import make_settings


def _keks(key: bytes) -> str:
    return f"k1:{base64.b64encode(key).decode()}"


def _production(database_url: str, tmp_path: Path, **values: object) -> Settings:
    base: dict[str, object] = {
        "env": "production",
        "local_keks": _keks(secrets.token_bytes(32)),
        "bootstrap_token": secrets.token_urlsafe(32),
    }
    return make_settings(database_url, tmp_path, **(base | values))


@pytest.mark.parametrize(
    "key",
    [bytes(32), b"\xff" * 32, b"0123" * 8, bytes(range(8)) * 4],
    ids=["all-zero", "all-ones", "repeated-text", "repeated-pattern"],
)
def test_weak_kek_refused_in_production(database_url: str, tmp_path: Path, key: bytes) -> None:
    settings = _production(database_url, tmp_path, local_keks=_keks(key))
    refused = r"VAULT_LOCAL_KEKS: entry 1 \(key .k1.\) (has|repeats)"
    with pytest.raises(ConfigurationError, match=refused):
        build_envelope(settings)


def test_weak_kek_still_runs_in_development(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, env="development", local_keks=_keks(bytes(32)))
    assert build_envelope(settings).envelope.active_kek == ("local", "k1")


@pytest.mark.parametrize(
    "token",
    ["b" * 32, "ab" * 16, "password" * 5, "0" * 64, "ab" * 20 + "b"],
)
def test_predictable_bootstrap_token_refused(database_url: str, tmp_path: Path, token: str) -> None:
    settings = _production(database_url, tmp_path, bootstrap_token=token)
    refused = "VAULT_BOOTSTRAP_TOKEN (has about|repeats a pattern)"
    with pytest.raises(ConfigurationError, match=refused):
        settings.check_runnable()


@pytest.mark.parametrize(
    "token", [secrets.token_urlsafe(32), secrets.token_hex(16), secrets.token_hex(32)]
)
def test_random_bootstrap_tokens_accepted(database_url: str, tmp_path: Path, token: str) -> None:
    _production(database_url, tmp_path, bootstrap_token=token).check_runnable()


@pytest.mark.parametrize("field", ["walmart_production_url", "walmart_sandbox_url"])
def test_http_walmart_url_refused_in_production(
    database_url: str, tmp_path: Path, field: str
) -> None:
    settings = _production(database_url, tmp_path, **{field: "http://walmart.internal"})
    with pytest.raises(ConfigurationError, match=rf"VAULT_{field.upper()} must be an https://"):
        settings.check_runnable()
    _production(
        database_url, tmp_path, **{field: "http://walmart.internal", "walmart_allow_http": True}
    ).check_runnable()
    make_settings(
        database_url, tmp_path, env="development", **{field: "http://127.0.0.1:9"}
    ).check_runnable()
