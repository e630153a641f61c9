"""Settings for App Store connection tests: a public URL, an allowed return origin, and the
simulator's consent page."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.walmart_sim import SimulatorServer

PUBLIC_URL = "https://vault.mports.test"
RETURN_ORIGIN = "https://app.mports.test"


@pytest.fixture
def settings(settings: Settings, walmart: SimulatorServer) -> Settings:
    return settings.model_copy(
        update={
            "public_url": PUBLIC_URL,
            "connection_return_origins": f"{RETURN_ORIGIN}, https://other.mports.test",
            "walmart_consent_url": f"{walmart.base_url}/consent",
        }
    )
