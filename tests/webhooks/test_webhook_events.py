"""Each event whose source is in the vault reaches a subscribed receiver, signed, with a
payload of ids and states only."""

from __future__ import annotations

from typing import Any

import httpx

from app.state import AppState
from tests.api.walmart_setup import signature_credential
from tests.factories import CHANNEL_TYPE, new_rsa_key, rsa_key, signature_auth
from tests.walmart_sim import SimulatorControl
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver

CREDENTIAL_FIELDS = {"credential_id", "account_id", "market", "environment", "status"}


def events(receiver: Receiver, secret: str) -> list[tuple[str, dict[str, Any]]]:
    return [(p["type"], p["data"]) for p in (r.verify(secret) for r in receiver.received)]


async def valid_credential(client: httpx.AsyncClient, control: SimulatorControl) -> str:
    credential = await signature_credential(client, control, account_id="acme-ca")
    assert (await client.post(f"/v1/credentials/{credential['id']}/test")).json()["ok"]
    return str(credential["id"])


async def test_drift_then_recovery(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart_control: SimulatorControl,
    receiver: Receiver,
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid", "credential.recovered")
    credential_id = await valid_credential(client, walmart_control)
    consumer = (await client.get(f"/v1/credentials/{credential_id}")).json()["consumer_id"]
    walmart_control.remove_consumer(consumer)
    await vault_state.drift.run_once()
    await receiver.wait_for(1)
    walmart_control.add_consumer(consumer, rsa_key(), channel_type=CHANNEL_TYPE)
    assert (await client.post(f"/v1/credentials/{credential_id}/test")).json()["ok"]
    await receiver.wait_for(2)
    (invalid_type, invalid), (recovered_type, recovered) = events(receiver, hook["secret"])
    assert (invalid_type, recovered_type) == ("credential.invalid", "credential.recovered")
    assert set(invalid) == CREDENTIAL_FIELDS | {"reason"}
    assert invalid == {
        "credential_id": credential_id,
        "account_id": "acme-ca",
        "market": "CA",
        "environment": "production",
        "status": "invalid",
        "reason": "drift",
    }
    del invalid["reason"]
    assert recovered == invalid | {"status": "valid"}


async def test_failed_live_test(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.invalid")
    credential = await signature_credential(client, walmart_control)
    walmart_control.remove_consumer(credential["consumer_id"])
    assert not (await client.post(f"/v1/credentials/{credential['id']}/test")).json()["ok"]
    await receiver.wait_for(1)
    ((kind, data),) = events(receiver, hook["secret"])
    assert (kind, data["reason"], data["status"]) == (
        "credential.invalid",
        "test_failed",
        "invalid",
    )


async def test_rotation_that_fixes_an_invalid_credential(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.rotated", "credential.recovered")
    credential_id = await valid_credential(client, walmart_control)
    consumer = (await client.get(f"/v1/credentials/{credential_id}")).json()["consumer_id"]
    walmart_control.remove_consumer(consumer)
    await client.post(f"/v1/credentials/{credential_id}/test")
    new_key = new_rsa_key(1024)
    walmart_control.add_consumer(consumer, new_key, channel_type=CHANNEL_TYPE)
    rotated = await client.post(
        f"/v1/credentials/{credential_id}/rotate", json={"auth": signature_auth(consumer, new_key)}
    )
    assert rotated.status_code == 200, rotated.text
    await receiver.wait_for(2)
    (first, rotation), (second, recovery) = events(receiver, hook["secret"])
    assert (first, second) == ("credential.rotated", "credential.recovered")
    assert (rotation["version"], rotation["status"]) == (2, "valid")
    assert recovery["credential_id"] == credential_id


async def test_disable_then_delete_arrive_in_order(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.disabled", "credential.deleted")
    credential = await signature_credential(client, walmart_control)
    path = f"/v1/credentials/{credential['id']}"
    assert (await client.patch(path, json={"disabled": True})).status_code == 200
    assert (await client.patch(path, json={"label": "still off"})).status_code == 200
    assert (await client.delete(path)).status_code == 204
    await receiver.wait_for(2)
    assert [(k, d["status"]) for k, d in events(receiver, hook["secret"])] == [
        ("credential.disabled", "disabled"),
        ("credential.deleted", "deleted"),
    ]


async def test_unsubscribed_types_are_not_queued(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, receiver: Receiver
) -> None:
    hook = await subscribe(client, receiver, "credential.deleted")
    credential = await signature_credential(client, walmart_control)
    await client.patch(f"/v1/credentials/{credential['id']}", json={"disabled": True})
    await client.delete(f"/v1/credentials/{credential['id']}")
    await receiver.wait_for(1)
    deliveries = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"]
    assert [d["event_type"] for d in deliveries] == ["credential.deleted"]
