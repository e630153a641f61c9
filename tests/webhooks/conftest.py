"""Webhook tests: the vault with webhooks allowed to loopback and quick retries, and a real
receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.webhooks.receiver import Receiver

FAST = {
    "webhook_allowed_hosts": "127.0.0.1",
    "webhook_poll_seconds": 0.1,
    "webhook_first_retry_seconds": 0.2,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update=FAST)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


async def subscribe(
    client: httpx.AsyncClient, receiver: Receiver, *events: str, **extra: Any
) -> dict[str, Any]:
    body = {"url": receiver.url, "events": list(events), **extra}
    response = await client.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
