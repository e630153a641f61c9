"""Registering mPorts' App Store app and creating consent links for sellers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.connections.service import hash_state
from tests.api.helpers import assert_error, bearer, new_client_token
from tests.connections.conftest import PUBLIC_URL, RETURN_ORIGIN

APP_SECRET = "app-secret-never-shown-0123456789"


def app_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "label": "mPorts production",
        "environment": "production",
        "client_id": "mports-app-client",
        "client_secret": APP_SECRET,
    }
    return body | overrides


def link_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "account_id": "acme-001",
        "market": "US",
        "environment": "production",
        "label": "Acme main store",
    }
    return body | overrides


async def test_app_is_registered_sealed_with_its_callback_url(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await client.post("/v1/walmart-apps", json=app_body())
    assert created.status_code == 201, created.text
    app = created.json()
    assert app["redirect_uri"] == f"{PUBLIC_URL}/connect/walmart/callback"
    assert app["client_id"] == "mports-app-client"
    assert APP_SECRET not in created.text
    listed = await client.get("/v1/walmart-apps")
    assert [a["id"] for a in listed.json()["items"]] == [app["id"]]
    assert APP_SECRET not in listed.text
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as db:
        sealed = (await db.execute(text("SELECT sealed_secret FROM walmart_apps"))).scalar_one()
    await engine.dispose()
    assert APP_SECRET not in sealed
    assert sealed.startswith("v1$")

    again = await client.post("/v1/walmart-apps", json=app_body())
    assert_error(again, 409, "walmart_app_exists")
    rotated = await client.post(
        f"/v1/walmart-apps/{app['id']}/rotate", json={"client_secret": "a-new-app-secret"}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret_version"] == 2
    assert_error(
        await client.post("/v1/walmart-apps", json=app_body(client_secret="")),
        422,
        "validation_error",
    )


async def test_apps_need_the_admin_scope(client: httpx.AsyncClient) -> None:
    token = await new_client_token(client, "credentials:write")
    answer = await client.post("/v1/walmart-apps", json=app_body(), headers=bearer(token))
    assert_error(answer, 403, "forbidden")


async def test_consent_url_carries_walmart_parameters_and_a_hashed_single_state(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    app = (await client.post("/v1/walmart-apps", json=app_body())).json()
    before = datetime.now(UTC)
    created = await client.post("/v1/connections", json=link_body())
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["status"] == "pending"
    assert link["app_id"] == app["id"]
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=29) < expires - before <= timedelta(minutes=31)
    url = urlsplit(link["consent_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == str(settings.walmart_consent_url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["responseType"] == "code"
    assert query["clientId"] == "mports-app-client"
    assert query["redirectUri"] == f"{PUBLIC_URL}/connect/walmart/callback"
    assert query["clientType"] == "seller"
    assert query["nonce"].isalnum()
    assert len(query["nonce"]) >= 16
    assert len(query["state"]) >= 40

    engine = create_async_engine(settings.database_url)
    async with engine.connect() as db:
        row = (await db.execute(text("SELECT state_hash, nonce FROM connections"))).one()
    await engine.dispose()
    assert row.state_hash == hash_state(query["state"])
    assert query["state"] not in row.state_hash
    second = (await client.post("/v1/connections", json=link_body())).json()
    second_query = parse_qs(urlsplit(second["consent_url"]).query)
    assert second_query["state"][0] != query["state"]
    assert second_query["nonce"][0] != query["nonce"]

    shown = await client.get(f"/v1/connections/{link['id']}")
    assert shown.json()["status"] == "pending"
    assert "consent_url" not in shown.json()
    listed = await client.get("/v1/connections", params={"account_id": "acme-001"})
    assert query["state"] not in listed.text
    assert len(listed.json()["items"]) == 2


async def test_client_type_follows_the_market(client: httpx.AsyncClient) -> None:
    await client.post("/v1/walmart-apps", json=app_body())
    for market, client_type in (("CA", "seller-ca"), ("MX", "seller-mx")):
        link = (await client.post("/v1/connections", json=link_body(market=market))).json()
        assert parse_qs(urlsplit(link["consent_url"]).query)["clientType"] == [client_type]
    chile = await client.post("/v1/connections", json=link_body(market="CL"))
    assert_error(chile, 422, "invalid_request")


async def test_links_need_an_app_and_an_allowed_return_url(client: httpx.AsyncClient) -> None:
    none = await client.post("/v1/connections", json=link_body())
    assert_error(none, 409, "walmart_app_required")
    await client.post("/v1/walmart-apps", json=app_body())
    sandbox = await client.post("/v1/connections", json=link_body(environment="sandbox"))
    assert_error(sandbox, 409, "walmart_app_required")
    for bad in ("https://evil.test/x", "javascript:alert(1)", "/relative", "ftp://app.mports.test"):
        answer = await client.post("/v1/connections", json=link_body(return_url=bad))
        assert_error(answer, 422, "invalid_request")
    good = await client.post(
        "/v1/connections", json=link_body(return_url=f"{RETURN_ORIGIN}/done?x=1")
    )
    assert good.status_code == 201, good.text


async def test_links_respect_the_callers_accounts(client: httpx.AsyncClient) -> None:
    await client.post("/v1/walmart-apps", json=app_body())
    token = await new_client_token(client, "credentials:write", account_ids=["other"])
    answer = await client.post("/v1/connections", json=link_body(), headers=bearer(token))
    assert_error(answer, 403, "forbidden")


async def test_app_in_use_cannot_be_deleted_and_unused_can(client: httpx.AsyncClient) -> None:
    app = (await client.post("/v1/walmart-apps", json=app_body())).json()
    deleted = await client.delete(f"/v1/walmart-apps/{app['id']}")
    assert deleted.status_code == 204
    assert_error(await client.delete(f"/v1/walmart-apps/{app['id']}"), 404, "not_found")
