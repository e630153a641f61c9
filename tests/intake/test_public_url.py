"""Links need ``VAULT_PUBLIC_URL`` in production."""

from __future__ import annotations

import httpx
import pytest

from app.config import Settings
from tests.api.helpers import assert_error
from tests.intake.helpers import link_body


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": None})


async def test_production_without_public_url_refuses_links(client: httpx.AsyncClient) -> None:
    error = assert_error(
        await client.post("/v1/intake-links", json=link_body()), 503, "public_url_not_set"
    )
    assert error["details"] == {"setting": "VAULT_PUBLIC_URL"}
    assert "VAULT_PUBLIC_URL" in error["message"]
    assert (await client.get("/v1/intake-links")).json()["items"] == []
