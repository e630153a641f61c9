"""``VAULT_METRICS_TOKEN``: when it is set, ``/metrics`` answers only a scraper that sends it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from app.config import ConfigurationError, Settings
from tests.conftest import BOOTSTRAP_TOKEN

SCRAPER_TOKEN = "scraper-Xq7vT2mK9pL4wR8zN3bH6cJ1dF5gS0aY"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(SCRAPER_TOKEN)})


async def _scrape(app: FastAPI, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vault") as scraper:
        return await scraper.get("/metrics", headers=headers)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        f"Bearer {SCRAPER_TOKEN[:-1]}",
        f"Bearer {BOOTSTRAP_TOKEN}",
        SCRAPER_TOKEN,
        f"Basic {SCRAPER_TOKEN}",
    ],
    ids=["none", "empty", "wrong", "an-api-client-token", "no-scheme", "basic"],
)
async def test_a_scrape_without_the_token_is_refused(
    vault_app: FastAPI, authorization: str | None
) -> None:
    response = await _scrape(vault_app, authorization)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthenticated"
    assert "VAULT_METRICS_TOKEN" in response.json()["error"]["message"]
    assert SCRAPER_TOKEN not in response.text
    assert "vault_" not in response.text


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_a_scrape_with_the_token_gets_the_metrics(vault_app: FastAPI, scheme: str) -> None:
    response = await _scrape(vault_app, f"{scheme} {SCRAPER_TOKEN}")
    assert response.status_code == 200
    assert "vault_credentials" in response.text


def test_a_short_or_predictable_metrics_token_is_refused(settings: Settings) -> None:
    fields = settings.model_dump() | {"_env_file": None}
    short = "short-secret-token"
    with pytest.raises(ValidationError, match="VAULT_METRICS_TOKEN must be at least 32") as bad:
        Settings(**(fields | {"metrics_token": short}))
    assert short not in str(bad.value)  # pydantic would quote the input
    with pytest.raises(ConfigurationError, match="VAULT_METRICS_TOKEN"):
        Settings(**(fields | {"metrics_token": "ab" * 20})).check_runnable()
