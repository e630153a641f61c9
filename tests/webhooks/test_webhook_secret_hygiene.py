"""No secret in a webhook: not in a payload or its headers, the deliveries list, the
endpoint list, the audit trail, a log record or a database dump; the signing secret itself
only in the answer that created it."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from app.config import Settings
from app.state import AppState
from app.webhooks.schemas import EVENT_TYPES
from tests.api.test_secret_hygiene_lifecycle import database_dump
from tests.api.walmart_setup import headers_for, oauth_credential, signature_credential
from tests.conftest import BOOTSTRAP_TOKEN
from tests.factories import CHANNEL_TYPE, new_rsa_key, seller_center_key
from tests.walmart_sim import SimulatorControl, SimulatorServer
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Received, Receiver


async def test_no_secret_leaves_through_webhooks(
    client: httpx.AsyncClient,
    settings: Settings,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = await subscribe(client, receiver, *EVENT_TYPES)
    signature = await signature_credential(client, walmart_control)
    oauth = await oauth_credential(client, walmart_control)
    token = (await headers_for(client, oauth["id"], "GET", walmart.base_url + "/v3/orders"))[
        "headers"
    ]["WM_SEC.ACCESS_TOKEN"]
    new_key = new_rsa_key(1024)
    key_text = seller_center_key(new_key)
    assert (await client.post(f"/v1/credentials/{signature['id']}/test")).json()["ok"]
    walmart_control.remove_consumer(signature["consumer_id"])
    await vault_state.drift.run_once()  # credential.invalid (drift)
    walmart_control.add_consumer(signature["consumer_id"], new_key, channel_type=CHANNEL_TYPE)
    sig_auth = {
        "kind": "signature",
        "consumer_id": signature["consumer_id"],
        "private_key": key_text,
        "channel_type": CHANNEL_TYPE,
    }
    rotated = await client.post(
        f"/v1/credentials/{signature['id']}/rotate", json={"auth": sig_auth}
    )
    assert rotated.status_code == 200, rotated.text  # credential.rotated, credential.recovered
    client_secret = "CANARY-webhook-client-secret-5e21"
    walmart_control.add_oauth_client(oauth["client_id"], client_secret)
    oauth_auth = {"kind": "oauth", "client_id": oauth["client_id"], "client_secret": client_secret}
    await client.post(f"/v1/credentials/{oauth['id']}/rotate", json={"auth": oauth_auth})
    await client.patch(f"/v1/credentials/{oauth['id']}", json={"disabled": True})
    await client.delete(f"/v1/credentials/{oauth['id']}")
    rotation = (await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret")).json()
    receiver.fail_next(1)
    await client.post(f"/v1/webhooks/{hook['id']}/test")
    await receiver.wait_for(7)
    await asyncio.sleep(settings.audit_flush_seconds + 0.2)

    answers = [
        await client.get("/v1/webhooks"),
        await client.get(f"/v1/webhooks/{hook['id']}/deliveries"),
        await client.get("/v1/audit", params={"limit": 200}),
    ]

    def verified_type(received: Received) -> str:
        # Sent before the rotation: the first secret; after: both sign.
        try:
            return str(received.verify(rotation["secret"])["type"])
        except WebhookVerificationError:
            return str(received.verify(hook["secret"])["type"])

    types = [verified_type(r) for r in receiver.received if r.status < 300]
    assert set(types) >= {
        "credential.invalid",
        "credential.recovered",
        "credential.rotated",
        "credential.disabled",
        "credential.deleted",
        "webhook.test",
    }
    secrets: dict[str, str] = {
        "private key": key_text,
        "private key (hex)": base64.b64decode(key_text).hex()[80:200],
        "client secret": client_secret,
        "access token": token,
        "caller token": BOOTSTRAP_TOKEN,
    }
    for name, secret in (("webhook secret", hook["secret"]), ("rotated", rotation["secret"])):
        secrets[name] = secret
        secrets[f"{name} (base64)"] = secret.removeprefix("whsec_")
        secrets[f"{name} (hex)"] = base64.b64decode(secret.removeprefix("whsec_")).hex()
    texts: dict[str, Any] = {
        "a payload": "\n".join(r.body.decode() for r in receiver.received),
        "a delivery's headers": "\n".join(str(r.headers) for r in receiver.received),
        "an answer": "\n".join(a.text for a in answers),
        "a log record": "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records),
        "a database dump": database_dump(settings.database_url),
    }
    for name, secret in secrets.items():
        for where, text in texts.items():
            assert secret not in text, f"{name} in {where}"
