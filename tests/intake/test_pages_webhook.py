"""A used hand-over link is announced by the ``intake_link.used`` webhook, ids only."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from tests.factories import CHANNEL_TYPE, new_rsa_key, seller_center_key
from tests.intake.helpers import create_link, open_form, post_form, signature_fields, token_path
from tests.walmart_sim import SimulatorControl
from tests.webhooks.conftest import FAST, subscribe
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update=FAST)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


async def test_used_link_is_announced(
    client: httpx.AsyncClient,
    seller: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    receiver: Receiver,
) -> None:
    hook = await subscribe(client, receiver, "intake_link.used")
    key = new_rsa_key(1024)
    walmart_control.add_consumer("hooked-consumer", key, channel_type=CHANNEL_TYPE)
    link = await create_link(client)
    path = token_path(link)
    _, csrf = await open_form(seller, path)
    fields = signature_fields("hooked-consumer", seller_center_key(key))
    assert (await post_form(seller, path, fields, csrf)).status_code == 200
    await receiver.wait_for(1)
    (payload,) = [r.verify(hook["secret"]) for r in receiver.received]
    (credential,) = (await client.get("/v1/credentials")).json()["items"]
    assert payload["type"] == "intake_link.used"
    assert payload["data"] == {
        "credential_id": credential["id"],
        "account_id": "acme-ca",
        "market": "CA",
        "environment": "production",
        "status": "valid",
        "intake_link_id": link["id"],
        "kind": "signature",
    }
