"""Hand-over link tests run against a vault whose public address is set."""

from __future__ import annotations

import pytest
from pydantic import AnyHttpUrl

from app.config import Settings

PUBLIC_URL = "https://vault.example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": AnyHttpUrl(PUBLIC_URL)})
