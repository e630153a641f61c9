"""Settings and start-up rules: production refuses unsafe configurations, development just works."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from app.config import ConfigurationError, Settings
from app.main import create_app

STRONG = "Zz9pAF10owJLQRTgMxGbxk2Hq7Ns4vWc8yEe3uTiRd"


def make_settings(database_url: str, tmp_path: Path, **values: object) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        dev_keks_file=tmp_path / "dev-keks",
        dev_token_file=tmp_path / "dev-token",
        **values,  # type: ignore[arg-type]
    )


def test_production_is_the_default_and_needs_explicit_keks(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    assert settings.env == "production"
    with pytest.raises(ConfigurationError, match="VAULT_LOCAL_KEKS"):
        create_app(settings)


def test_short_bootstrap_token_refused(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        make_settings(database_url, tmp_path, bootstrap_token="short")


def test_malformed_keks_name_the_problem(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, tmp_path, env="production", local_keks="k1:c2hvcnQ=", bootstrap_token=STRONG
    )
    with pytest.raises(ConfigurationError, match=r"VAULT_LOCAL_KEKS: .*32"):
        create_app(settings)


async def test_production_without_any_admin_refuses_to_start(
    database_url: str, local_keks: str, tmp_path: Path
) -> None:
    from tests.conftest import _empty_tables

    await _empty_tables(database_url)
    settings = make_settings(database_url, tmp_path, local_keks=local_keks)
    app = create_app(settings)
    with pytest.raises(ConfigurationError, match="VAULT_BOOTSTRAP_TOKEN"):
        async with app.router.lifespan_context(app):
            pass


async def test_development_generates_keys_and_admin_token_once(
    database_url: str, tmp_path: Path
) -> None:
    from tests.conftest import _empty_tables

    await _empty_tables(database_url)
    settings = make_settings(database_url, tmp_path, env="development")
    for _ in range(2):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            token = settings.dev_token_file.read_text().strip()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get(
                    "/v1/credentials", headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 200
    keks = settings.dev_keks_file.read_text()
    assert keks.startswith("dev-1:")
    for path in (settings.dev_keks_file, settings.dev_token_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.dev_keks_file.read_text() == keks
