"""Managing webhook endpoints: the secret shown once and stored sealed, the host allow-list,
changes, deletion, secret rotation and the test event."""

from __future__ import annotations

import httpx
import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from app.config import Settings
from tests.api.helpers import assert_error, bearer, new_client_token
from tests.api.test_rotation import rows
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver


async def test_created_endpoint_shows_its_secret_once_and_keeps_it_sealed(
    client: httpx.AsyncClient, receiver: Receiver, settings: Settings
) -> None:
    created = await subscribe(client, receiver, "credential.invalid", description="front end")
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["credential.invalid"]
    listed = (await client.get("/v1/webhooks")).json()
    assert [e["id"] for e in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0]
    assert created["secret"] not in (await client.get("/v1/webhooks")).text
    stored = await rows(settings, "SELECT sealed_secret FROM webhook_endpoints")
    assert stored[0][0].startswith("v1$")
    assert created["secret"].removeprefix("whsec_") not in stored[0][0]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://evil.example/hook", "not in VAULT_WEBHOOK_ALLOWED_HOSTS"),
        ("http://169.254.169.254/latest", "https"),
        ("ftp://127.0.0.1/x", "http(s)"),
        ("http://user:pw@127.0.0.1/x", "user name"),
        ("not a url at all", "http(s)"),
    ],
)
async def test_url_outside_the_allow_list_is_refused(
    client: httpx.AsyncClient, url: str, problem: str
) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": ["credential.invalid"]}
    )
    error = assert_error(response, 422, "webhook_url_not_allowed")
    assert problem in error["message"]
    assert (await client.get("/v1/webhooks")).json()["items"] == []


async def test_unknown_event_type_is_refused(client: httpx.AsyncClient, receiver: Receiver) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": receiver.url, "events": ["credential.exploded"]}
    )
    assert_error(response, 422, "validation_error")


async def test_only_unrestricted_admins_manage_webhooks(client: httpx.AsyncClient) -> None:
    reader = await new_client_token(client, "credentials:read")
    limited = await new_client_token(client, "admin", account_ids=["acct-1"])
    for token in (reader, limited):
        response = await client.get("/v1/webhooks", headers=bearer(token))
        assert_error(response, 403, "forbidden")


async def test_patch_changes_events_and_turns_an_endpoint_off(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    created = await subscribe(client, receiver, "credential.invalid")
    path = f"/v1/webhooks/{created['id']}"
    patched = await client.patch(path, json={"events": ["credential.deleted"], "enabled": False})
    assert patched.status_code == 200, patched.text
    assert patched.json()["events"] == ["credential.deleted"]
    assert patched.json()["enabled"] is False
    assert_error(
        await client.patch(path, json={"url": "https://evil.example/"}),
        422,
        "webhook_url_not_allowed",
    )
    assert_error(await client.patch(path, json={"events": None}), 422, "invalid_request")
    assert_error(await client.post(f"{path}/test"), 409, "webhook_disabled")
    assert (await client.get("/v1/webhooks")).json()["items"][0]["events"] == ["credential.deleted"]


async def test_delete_removes_the_endpoint(client: httpx.AsyncClient, receiver: Receiver) -> None:
    created = await subscribe(client, receiver, "credential.invalid")
    path = f"/v1/webhooks/{created['id']}"
    assert (await client.delete(path)).status_code == 204
    assert_error(await client.delete(path), 404, "not_found")
    assert (await client.get("/v1/webhooks")).json()["items"] == []


async def test_test_event_arrives_signed(client: httpx.AsyncClient, receiver: Receiver) -> None:
    created = await subscribe(client, receiver, "credential.invalid")
    queued = await client.post(f"/v1/webhooks/{created['id']}/test")
    assert queued.status_code == 202, queued.text
    (delivery,) = await receiver.wait_for(1)
    payload = delivery.verify(created["secret"])
    assert payload["type"] == "webhook.test"
    assert payload["data"]["endpoint_id"] == created["id"]
    assert delivery.webhook_id == queued.json()["event_id"]


async def test_rotated_secret_and_the_old_one_both_sign_during_the_grace_period(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    created = await subscribe(client, receiver, "credential.invalid")
    path = f"/v1/webhooks/{created['id']}"
    rotated = await client.post(f"{path}/rotate-secret", json={"grace_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != created["secret"]
    assert rotated.json()["secret_version"] == 2
    await client.post(f"{path}/test")
    (first,) = await receiver.wait_for(1)
    assert first.verify(created["secret"]) == first.verify(new_secret)
    # Without a grace period only the new secret signs.
    again = (await client.post(f"{path}/rotate-secret", json={"grace_seconds": 0})).json()
    await client.post(f"{path}/test")
    second = (await receiver.wait_for(2))[1]
    second.verify(again["secret"])
    for old in (created["secret"], new_secret):
        with pytest.raises(WebhookVerificationError):
            second.verify(old)


async def test_missing_endpoint_and_delivery_are_404(client: httpx.AsyncClient) -> None:
    missing = "/v1/webhooks/00000000-0000-4000-8000-000000000000"
    assert_error(await client.get(f"{missing}/deliveries"), 404, "not_found")
    assert_error(await client.post(f"{missing}/rotate-secret"), 404, "not_found")
    assert_error(
        await client.post(f"{missing}/deliveries/00000000-0000-4000-8000-000000000001/retry"),
        404,
        "not_found",
    )
