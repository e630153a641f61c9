"""A snapshot miss is one read that brings the current sealed secret along (both databases)."""

from __future__ import annotations

import uuid

import httpx

from app.state import AppState
from tests.api.walmart_setup import headers_for, signature_credential
from tests.factories import CHANNEL_TYPE, new_rsa_key, signature_auth
from tests.walmart_sim import SimulatorControl, SimulatorServer


async def test_a_miss_reads_the_current_sealed_secret_once(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    credential = await signature_credential(client, walmart_control)
    credential_id = uuid.UUID(credential["id"])
    snapshots = vault_state.issuer.snapshots
    snapshots.forget(credential_id)
    snapshot = await snapshots.get(credential_id)
    assert snapshot is not None
    assert snapshot.version == 1
    assert snapshot.sealed_secret is not None
    assert snapshot.sealed_secret.startswith("v1$")  # sealed, never the PEM
    assert "sealed_secret" not in repr(snapshot)
    by_slot = await snapshots.for_slot("acme-ca", "CA", "production")
    assert by_slot is not None
    assert by_slot.sealed_secret == snapshot.sealed_secret

    new_key = new_rsa_key(1024)
    walmart_control.add_consumer(credential["consumer_id"], new_key, channel_type=CHANNEL_TYPE)
    rotated = await client.post(
        f"/v1/credentials/{credential_id}/rotate",
        json={"auth": signature_auth(credential["consumer_id"], new_key)},
    )
    assert rotated.status_code == 200, rotated.text
    snapshots.forget(credential_id)
    fresh = await snapshots.get(credential_id)
    assert fresh is not None
    assert fresh.version == 2
    assert fresh.sealed_secret != snapshot.sealed_secret
    issued = await headers_for(client, credential["id"], "GET", walmart.base_url + "/v3/ca/feeds")
    assert issued["version"] == 2
    assert await snapshots.get(uuid.uuid4()) is None
    assert await snapshots.for_slot("nobody", "CA", "production") is None
