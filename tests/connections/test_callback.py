"""The callback page: a connection completes, and each way it can fail has its own page,
status and audit event, with nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from tests.connections.conftest import RETURN_ORIGIN
from tests.connections.flow import (
    APP_SECRET,
    SELLER_ID,
    callback,
    connect,
    consent,
    new_link,
    register_app,
)
from tests.walmart_sim import SimulatorControl, SimulatorServer


async def unknown_states_counted(client: httpx.AsyncClient) -> float:
    metrics = (await client.get("/metrics")).text
    prefix = 'vault_public_unknown_tokens_total{page="callback"} '
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


async def audit(client: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = (
        await client.get("/v1/audit", params={"action": action})
    ).json()["items"]
    return events


async def credential_count(settings: Settings) -> int:
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as db:
        count = (await db.execute(text("SELECT count(*) FROM credentials"))).scalar_one()
    await engine.dispose()
    return int(count)


def page_text(page: httpx.Response) -> str:
    return page.text.replace("\n", " ")


async def test_a_seller_connects_and_a_service_gets_working_headers(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, walmart: SimulatorServer
) -> None:
    app = await register_app(client, walmart_control)
    link = await new_link(client)
    query = await consent(link["consent_url"])
    assert query["sellerId"] == SELLER_ID
    page = await callback(client, query)
    assert page.status_code == 200
    assert "Your Walmart account is connected" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert query["code"] not in page.text

    shown = (await client.get(f"/v1/connections/{link['id']}")).json()
    assert shown["status"] == "connected"
    credential = (await client.get(f"/v1/credentials/{shown['credential_id']}")).json()
    assert credential["kind"] == "app_oauth"
    assert credential["seller_id"] == SELLER_ID
    assert credential["app_id"] == app["id"]
    assert credential["client_id"] == app["client_id"]
    assert credential["status"] == "valid"
    expires = datetime.fromisoformat(credential["refresh_expires_at"])
    assert timedelta(days=364) < expires - datetime.now(UTC) <= timedelta(days=366)

    headers = await client.post(
        "/v1/accounts/acme-001/headers",
        json={
            "market": "US",
            "environment": "production",
            "method": "GET",
            "url": f"{walmart.base_url}/v3/orders?limit=1",
        },
    )
    assert headers.status_code == 200, headers.text
    assert headers.json()["kind"] == "app_oauth"
    issued = headers.json()["headers"]
    assert "Authorization" not in issued
    async with httpx.AsyncClient() as service:
        walmart_answer = await service.get(f"{walmart.base_url}/v3/orders?limit=1", headers=issued)
    assert walmart_answer.status_code == 200, walmart_answer.text
    stats = walmart_control.stats()["app_store"]
    assert stats["grants"] == {"authorization_code": 1}  # the callback's token was reused

    [completed] = await audit(client, "connection.completed")
    assert completed["credential_id"] == credential["id"]
    assert (await audit(client, "connection.created"))[0]["details"]["connection_id"] == link["id"]
    everything = (await client.get("/v1/audit", params={"limit": 200})).text
    assert APP_SECRET not in everything
    assert query["code"] not in everything
    assert query["state"] not in everything


async def test_declining_stores_nothing_and_says_so(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    await register_app(client, walmart_control)
    link = await new_link(client)
    page = await callback(client, await consent(link["consent_url"], "decline"))
    assert page.status_code == 403
    assert "You declined the connection" in page.text
    assert "press Connect again" in page_text(page)
    assert (await client.get(f"/v1/connections/{link['id']}")).json()["status"] == "failed"
    assert await credential_count(settings) == 0
    [failed] = await audit(client, "connection.failed")
    assert failed["outcome"] == "declined"


async def test_a_replayed_callback_changes_nothing(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    await register_app(client, walmart_control)
    link = await new_link(client)
    query = await consent(link["consent_url"])
    assert (await callback(client, query)).status_code == 200
    replay = await callback(client, query)
    assert replay.status_code == 409
    assert "already used" in replay.text
    credentials = (await client.get("/v1/credentials")).json()["items"]
    assert [c["version"] for c in credentials] == [1]
    assert walmart_control.stats()["app_store"]["grants"] == {"authorization_code": 1}
    assert [e["outcome"] for e in await audit(client, "connection.failed")] == ["state_used"]


async def test_an_expired_state_is_refused(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    await register_app(client, walmart_control)
    link = await new_link(client)
    query = await consent(link["consent_url"])
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as db:
        await db.execute(
            text("UPDATE connections SET expires_at = :past"),
            {"past": datetime.now(UTC) - timedelta(seconds=1)},
        )
    await engine.dispose()
    page = await callback(client, query)
    assert page.status_code == 410
    assert "expired" in page.text
    assert (await client.get(f"/v1/connections/{link['id']}")).json()["status"] == "expired"
    assert await credential_count(settings) == 0
    assert walmart_control.stats()["app_store"]["grants"] == {}


async def test_a_tampered_or_missing_state_is_unknown(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    await register_app(client, walmart_control)
    link = await new_link(client)
    query = await consent(link["consent_url"])
    counted_before = await unknown_states_counted(client)
    tampered = query | {
        "state": query["state"][:-2] + ("AA" if query["state"][-2:] != "AA" else "BB")
    }
    for bad in (tampered, {k: v for k, v in query.items() if k != "state"}):
        page = await callback(client, bad)
        assert page.status_code == 400
        assert "not valid" in page.text
    assert (await client.get(f"/v1/connections/{link['id']}")).json()["status"] == "pending"
    assert await credential_count(settings) == 0
    # Anyone can send a made-up state: counted and logged, never written anywhere.
    assert await audit(client, "connection.failed") == []
    assert await unknown_states_counted(client) == counted_before + 2
    assert (await callback(client, query)).status_code == 200  # the real one still works


async def test_unknown_or_used_states_are_throttled_per_address_before_any_write(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    await register_app(client, walmart_control)
    used = await consent((await new_link(client))["consent_url"])
    assert (await callback(client, used)).status_code == 200
    waiting = await consent((await new_link(client))["consent_url"])
    budget = settings.intake_submissions_per_address_per_minute
    assert (await callback(client, used)).status_code == 409  # a replay: on record
    for i in range(budget - 1):
        assert (await callback(client, {"state": f"made-up-{i}", "code": "c"})).status_code == 400
    for spent in ({"state": "one-more", "code": "c"}, used):
        page = await callback(client, spent)
        assert page.status_code == 429
        assert 1 <= int(page.headers["retry-after"]) <= 60
        assert "Too many attempts" in page.text
    assert [e["outcome"] for e in await audit(client, "connection.failed")] == ["state_used"]
    assert (await callback(client, waiting)).status_code == 200  # a seller is never held back


async def test_another_apps_client_id_or_a_missing_code_is_refused(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    await register_app(client, walmart_control)
    first = await consent((await new_link(client))["consent_url"])
    page = await callback(client, first | {"clientId": "someone-else"})
    assert page.status_code == 400
    assert "different app" in page.text
    second = await consent((await new_link(client))["consent_url"])
    page = await callback(client, {k: v for k, v in second.items() if k != "code"})
    assert page.status_code == 400
    assert "incomplete" in page.text
    assert await credential_count(settings) == 0
    reasons = {e["outcome"] for e in await audit(client, "connection.failed")}
    assert reasons == {"client_mismatch", "incomplete_callback"}


async def test_a_code_walmart_refuses_or_an_outage_stores_nothing(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    await register_app(client, walmart_control)
    query = await consent((await new_link(client))["consent_url"])
    page = await callback(client, query | {"code": "not-a-code-walmart-gave"})
    assert page.status_code == 502
    assert "refused" in page.text
    walmart_control.add_fault("/v3/token", status=500, times=1)
    outage = await callback(client, await consent((await new_link(client))["consent_url"]))
    assert outage.status_code == 503
    assert "could not be reached" in outage.text
    assert await credential_count(settings) == 0
    reasons = {e["outcome"] for e in await audit(client, "connection.failed")}
    assert reasons == {"code_refused", "walmart_unavailable"}


async def test_success_redirects_to_an_allowed_return_url(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    await register_app(client, walmart_control)
    link = await new_link(client, return_url=f"{RETURN_ORIGIN}/done?tab=walmart")
    answer = await callback(client, await consent(link["consent_url"]))
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"{RETURN_ORIGIN}/done?tab=walmart&connection_id={link['id']}&status=connected"
    )
    assert answer.headers["cache-control"] == "no-store"
    declined = await new_link(client, return_url=f"{RETURN_ORIGIN}/done")
    answer = await callback(client, await consent(declined["consent_url"], "decline"))
    assert answer.headers["location"].endswith("status=failed&error=declined")


async def test_connect_again_makes_a_new_version_and_migrates_delegated_keys(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    await register_app(client, walmart_control)
    delegated = await client.post(
        "/v1/credentials",
        json={
            "account_id": "acme-001",
            "market": "US",
            "environment": "production",
            "label": "Delegated keys",
            "auth": {"kind": "oauth", "client_id": "old-id", "client_secret": "old-secret"},
        },
    )
    assert delegated.status_code == 201
    credential = await connect(client)
    assert credential["id"] == delegated.json()["id"]
    assert credential["kind"] == "app_oauth"
    assert credential["version"] == 2
    versions = (await client.get(f"/v1/credentials/{credential['id']}/versions")).json()["items"]
    assert [(v["version"], v["state"]) for v in versions] == [(2, "current"), (1, "destroyed")]
    again = await connect(client)
    assert again["version"] == 3
    assert again["id"] == credential["id"]


async def test_a_new_token_walmart_does_not_confirm_leaves_the_current_version(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    await register_app(client, walmart_control)
    first = await connect(client)
    walmart_control.add_fault("/v3/token/detail", status=401, times=1)
    page = await callback(client, await consent((await new_link(client))["consent_url"]))
    assert page.status_code == 502
    assert "did not accept the new connection" in page.text
    shown = (await client.get(f"/v1/credentials/{first['id']}")).json()
    assert shown["version"] == 1
    assert shown["status"] == "valid"
    reasons = [e["outcome"] for e in await audit(client, "connection.failed")]
    assert reasons == ["test_failed"]


async def test_an_app_in_use_cannot_be_deleted(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    app = await register_app(client, walmart_control)
    credential = await connect(client)
    refused = await client.delete(f"/v1/walmart-apps/{app['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "walmart_app_in_use"
    assert (await client.delete(f"/v1/credentials/{credential['id']}")).status_code == 204
    assert (await client.delete(f"/v1/walmart-apps/{app['id']}")).status_code == 204
