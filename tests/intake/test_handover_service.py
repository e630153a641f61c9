"""``handover.submit`` decides a submission without any HTTP: the page router only renders
what it answers. These drive the service directly, as the router does."""

from __future__ import annotations

import httpx
import pytest

from app.intake import handover
from app.intake.handover import LinkGone
from app.intake.models import IntakeLink
from app.intake.refusals import Refusal
from app.intake.tokens import csrf_token
from app.state import AppState
from tests.factories import rsa_key, seller_center_key, signature_body
from tests.intake.helpers import audit_actions, create_link, signature_fields, token_path


async def _link_and_token(
    client: httpx.AsyncClient, vault_state: AppState
) -> tuple[IntakeLink, str]:
    token = token_path(await create_link(client)).removeprefix("/intake/")
    return await handover.open_link_briefly(vault_state.handover, token), token


async def test_a_stale_csrf_token_is_refused_and_recorded_without_counting(
    client: httpx.AsyncClient, vault_state: AppState
) -> None:
    link, token = await _link_and_token(client, vault_state)
    fields = signature_fields("c-1", "MIIB") | {"csrf_token": "0" * 64}
    with pytest.raises(Refusal) as refused:
        await handover.submit(vault_state.handover, link, token, fields, request_id=None)
    assert (refused.value.reason, refused.value.counted) == ("csrf_mismatch", False)
    assert refused.value.tries_left == 5  # recorded: the count is known, and unchanged
    assert await audit_actions(client) == ["intake_link.created", "intake_link.failed"]


async def test_an_incomplete_form_is_refused_field_by_field(
    client: httpx.AsyncClient, vault_state: AppState
) -> None:
    link, token = await _link_and_token(client, vault_state)
    fields = {"consumer_id": "c-1", "csrf_token": csrf_token(token, link.id)}
    with pytest.raises(Refusal) as refused:
        await handover.submit(vault_state.handover, link, token, fields, request_id="req-1")
    assert refused.value.reason == "incomplete_form"
    assert set(refused.value.errors) == {"private_key", "channel_type"}
    (listed,) = (await client.get("/v1/intake-links")).json()["items"]
    assert (listed["state"], listed["failures"]) == ("active", 0)
    events = (await client.get("/v1/audit", params={"action": "intake_link.failed"})).json()
    assert [e["request_id"] for e in events["items"]] == ["req-1"]


async def test_unknown_and_revoked_links_are_gone(
    client: httpx.AsyncClient, vault_state: AppState
) -> None:
    with pytest.raises(LinkGone) as unknown:
        await handover.open_link_briefly(vault_state.handover, "mpvl_" + "A" * 43)
    assert unknown.value.state is None
    link, token = await _link_and_token(client, vault_state)
    assert (await client.delete(f"/v1/intake-links/{link.id}")).status_code == 204
    with pytest.raises(LinkGone) as revoked:
        await handover.open_link_briefly(vault_state.handover, token)
    assert revoked.value.state == "revoked"


async def test_a_slot_taken_meanwhile_is_refused_without_counting(
    client: httpx.AsyncClient, vault_state: AppState
) -> None:
    link, token = await _link_and_token(client, vault_state)
    registered = await client.post("/v1/credentials", json=signature_body())  # by someone else
    assert registered.status_code == 201, registered.text
    fields = signature_fields("c-1", seller_center_key(rsa_key()))
    fields["csrf_token"] = csrf_token(token, link.id)
    with pytest.raises(Refusal) as refused:
        await handover.submit(vault_state.handover, link, token, fields, request_id=None)
    assert (refused.value.reason, refused.value.counted) == ("credential_exists", False)
    assert "already has keys for this store" in refused.value.errors[""]
    (listed,) = (await client.get("/v1/intake-links")).json()["items"]
    assert (listed["state"], listed["failures"]) == ("active", 0)
    with pytest.raises(Refusal):  # not LinkBusy: the refused submission ended its lease
        await handover.submit(vault_state.handover, link, token, fields, request_id=None)
    events = (await client.get("/v1/audit", params={"action": "intake_link.failed"})).json()
    assert [e["outcome"] for e in events["items"]] == ["credential_exists"] * 2
