"""`/v1/intake-links`: create (URL once, token stored hashed), list, revoke, and refusals."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from tests.api.helpers import assert_error, bearer, new_client_token
from tests.api.walmart_setup import signature_credential
from tests.conftest import PUBLIC_URL
from tests.intake.helpers import audit_actions, create_link, link_body
from tests.walmart_sim import SimulatorControl


async def _stored_links(url: str) -> list[dict[str, object]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT * FROM intake_links"))
            return [dict(row._mapping) for row in rows]
    finally:
        await engine.dispose()


async def test_create_shows_url_once_and_stores_only_its_hash(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    before = datetime.now(UTC)
    created = await create_link(client)
    token = created["url"].removeprefix(f"{PUBLIC_URL}/intake/")
    assert token.startswith("mpvl_")
    assert len(token) == 48
    assert created["state"] == "active"
    assert created["failures"] == 0
    assert created["credential_id"] is None
    assert created["used_at"] is None
    expires = datetime.fromisoformat(created["expires_at"])
    assert before + timedelta(hours=72) <= expires <= datetime.now(UTC) + timedelta(hours=72)
    (row,) = await _stored_links(settings.database_url)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(row)
    listed = await client.get("/v1/intake-links")
    assert listed.status_code == 200, listed.text
    assert token not in listed.text
    assert "url" not in listed.json()["items"][0]
    assert listed.json()["items"][0]["id"] == created["id"]
    assert await audit_actions(client) == ["intake_link.created"]


async def test_expiry_is_bounded_to_seven_days(client: httpx.AsyncClient) -> None:
    created = await create_link(client, expires_in_hours=168)
    expires = datetime.fromisoformat(created["expires_at"])
    assert expires - datetime.fromisoformat(created["created_at"]) == timedelta(hours=168)
    for hours in (0, 169, -1, "soon"):
        response = await client.post("/v1/intake-links", json=link_body(expires_in_hours=hours))
        assert_error(response, 422, "validation_error")


async def test_signature_link_outside_canada_names_oauth(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/intake-links", json=link_body(market="US"))
    error = assert_error(response, 422, "auth_kind_not_available")
    assert error["details"]["use_kind"] == "oauth"
    us = await create_link(client, market="US", kind="oauth", account_id="acme-001")
    assert us["kind"] == "oauth"


async def test_register_link_refused_when_slot_is_taken(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    taken = await client.post("/v1/intake-links", json=link_body())
    error = assert_error(taken, 409, "credential_exists")
    assert error["details"]["credential_id"] == credential["id"]
    rotation = await create_link(client, credential_id=credential["id"])
    assert rotation["credential_id"] == credential["id"]


async def test_rotation_link_must_describe_its_credential(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    response = await client.post(
        "/v1/intake-links",
        json=link_body(credential_id=credential["id"], account_id="acme-other"),
    )
    # A well-formed request that disagrees with what is stored: a conflict, not a 422.
    error = assert_error(response, 409, "credential_mismatch")
    assert error["details"] == {"fields": ["account_id"], "expected": {"account_id": "acme-ca"}}
    missing = link_body(credential_id="3f0c9a4e-6a43-4c1e-9a57-1d2b0f3c8e11")
    assert_error(await client.post("/v1/intake-links", json=missing), 404, "not_found")


async def test_scopes_and_account_limits(client: httpx.AsyncClient) -> None:
    reader = bearer(await new_client_token(client, "credentials:read"))
    limited = bearer(
        await new_client_token(
            client, "credentials:read", "credentials:write", account_ids=["other"]
        )
    )
    response = await client.post("/v1/intake-links", json=link_body(), headers=reader)
    assert_error(response, 403, "forbidden")
    response = await client.post("/v1/intake-links", json=link_body(), headers=limited)
    assert_error(response, 403, "forbidden")
    mine = await create_link(client)
    theirs = await create_link(client, account_id="other")
    listed = await client.get("/v1/intake-links", headers=limited)
    assert [item["id"] for item in listed.json()["items"]] == [theirs["id"]]
    refused = await client.delete(f"/v1/intake-links/{mine['id']}", headers=limited)
    assert_error(refused, 403, "forbidden")
    assert (await client.get("/v1/intake-links", headers=reader)).status_code == 200


async def test_list_pages_newest_first_and_filters_by_account(client: httpx.AsyncClient) -> None:
    made = [await create_link(client, account_id=f"acct-{n}") for n in range(3)]
    first = (await client.get("/v1/intake-links", params={"limit": 2})).json()
    assert [item["id"] for item in first["items"]] == [made[2]["id"], made[1]["id"]]
    rest = await client.get("/v1/intake-links", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [item["id"] for item in rest.json()["items"]] == [made[0]["id"]]
    assert rest.json()["next_cursor"] is None
    one = await client.get("/v1/intake-links", params={"account_id": "acct-1"})
    assert [item["id"] for item in one.json()["items"]] == [made[1]["id"]]


async def test_revoke_stops_the_link_once(client: httpx.AsyncClient) -> None:
    created = await create_link(client)
    assert (await client.delete(f"/v1/intake-links/{created['id']}")).status_code == 204
    (item,) = (await client.get("/v1/intake-links")).json()["items"]
    assert item["state"] == "revoked"
    assert item["revoked_at"] is not None
    again = await client.delete(f"/v1/intake-links/{created['id']}")
    assert assert_error(again, 409, "intake_link_not_active")["details"] == {"state": "revoked"}
    unknown = await client.delete("/v1/intake-links/3f0c9a4e-6a43-4c1e-9a57-1d2b0f3c8e11")
    assert_error(unknown, 404, "not_found")
    assert await audit_actions(client) == ["intake_link.created", "intake_link.revoked"]
