"""Reading, listing, editing and deleting credentials."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from tests.api.helpers import assert_error
from tests.factories import oauth_body, signature_body


async def create(client: httpx.AsyncClient, body: dict[str, object]) -> dict[str, object]:
    response = await client.post("/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_list_filters_and_paginates_newest_first(client: httpx.AsyncClient) -> None:
    ids = []
    for n in range(5):
        ids.append((await create(client, oauth_body(account_id=f"acct-{n}")))["id"])
    ca = await create(client, signature_body(account_id="acct-0"))
    everything = (await client.get("/v1/credentials", params={"limit": 200})).json()
    assert [c["id"] for c in everything["items"]] == [ca["id"], *reversed(ids)]
    assert everything["next_cursor"] is None

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/credentials", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in everything["items"]]

    only = (await client.get("/v1/credentials", params={"account_id": "acct-0"})).json()["items"]
    assert {c["id"] for c in only} == {ca["id"], ids[0]}
    markets = (await client.get("/v1/credentials", params={"market": "CA"})).json()["items"]
    assert [c["id"] for c in markets] == [ca["id"]]
    untested = (await client.get("/v1/credentials", params={"status": "untested"})).json()
    assert len(untested["items"]) == 6
    assert (await client.get("/v1/credentials", params={"environment": "sandbox"})).json()[
        "items"
    ] == []


async def test_list_limits_and_cursor_are_checked(client: httpx.AsyncClient) -> None:
    for limit in (0, 201, -1):
        assert_error(
            await client.get("/v1/credentials", params={"limit": limit}), 422, "validation_error"
        )
    bad = await client.get("/v1/credentials", params={"cursor": "not-a-cursor"})
    assert_error(bad, 422, "invalid_request")
    assert_error(
        await client.get("/v1/credentials", params={"status": "deleted"}), 422, "validation_error"
    )


async def test_get_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"/v1/credentials/{uuid.uuid4()}"), 404, "not_found")
    assert_error(await client.get("/v1/credentials/not-a-uuid"), 422, "validation_error")


async def test_patch_label_channel_type_and_disable(client: httpx.AsyncClient) -> None:
    created = await create(client, signature_body())
    url = f"/v1/credentials/{created['id']}"
    patched = await client.patch(url, json={"label": "Renamed", "channel_type": "new-channel"})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["label"], body["channel_type"]) == ("Renamed", "new-channel")
    assert body["updated_at"] > created["updated_at"]

    disabled = (await client.patch(url, json={"disabled": True})).json()
    assert disabled["status"] == "disabled"
    listed = (await client.get("/v1/credentials", params={"status": "disabled"})).json()["items"]
    assert [c["id"] for c in listed] == [created["id"]]
    enabled = (await client.patch(url, json={"disabled": False})).json()
    assert enabled["status"] == "untested"


async def test_patch_refusals(client: httpx.AsyncClient) -> None:
    created = await create(client, signature_body())
    url = f"/v1/credentials/{created['id']}"
    assert_error(await client.patch(url, json={"channel_type": None}), 422, "invalid_request")
    assert_error(await client.patch(url, json={"label": None}), 422, "invalid_request")
    assert_error(await client.patch(url, json={"label": "a\nb"}), 422, "validation_error")
    assert_error(await client.patch(url, json={"kind": "oauth"}), 422, "validation_error")
    assert_error(
        await client.patch(f"/v1/credentials/{uuid.uuid4()}", json={"label": "x"}), 404, "not_found"
    )
    unchanged = (await client.get(url)).json()
    assert unchanged == created


async def test_delete_destroys_key_material_and_keeps_a_tombstone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await create(client, signature_body())
    url = f"/v1/credentials/{created['id']}"
    deleted = await client.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(await client.get(url), 404, "not_found")
    assert_error(await client.delete(url), 404, "not_found")
    assert_error(await client.get(f"{url}/versions"), 404, "not_found")

    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            tombstone = (
                await connection.execute(
                    text("SELECT deleted_at FROM credentials WHERE account_id = 'acme-ca'")
                )
            ).all()
            versions = (
                await connection.execute(
                    text("SELECT state, sealed_secret FROM credential_versions")
                )
            ).all()
    finally:
        await engine.dispose()
    assert len(tombstone) == 1
    assert tombstone[0][0] is not None
    assert [tuple(v) for v in versions] == [("destroyed", None)]

    again = await client.post("/v1/credentials", json=signature_body())
    assert again.status_code == 201, again.text


async def test_versions_lists_the_current_version(client: httpx.AsyncClient) -> None:
    created = await create(client, oauth_body())
    versions = (await client.get(f"/v1/credentials/{created['id']}/versions")).json()["items"]
    assert len(versions) == 1
    (only,) = versions
    assert only["version"] == 1
    assert only["state"] == "current"
    assert only["fingerprint"] == created["fingerprint"]
    assert only["created_by"] is not None
    assert set(only) == {"version", "state", "fingerprint", "created_at", "created_by", "test"}
