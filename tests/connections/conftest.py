"""Settings for App Store connection tests: a public URL and an allowed return origin."""

from __future__ import annotations

import pytest

from app.config import Settings

PUBLIC_URL = "https://vault.mports.test"
RETURN_ORIGIN = "https://app.mports.test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "public_url": PUBLIC_URL,
            "connection_return_origins": f"{RETURN_ORIGIN}, https://other.mports.test",
        }
    )
