"""Access tokens of App Store connections: the refresh_token grant, rotation, and a refused
refresh that asks the seller to reconnect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.connections.rotated_tokens import RotatedTokens
from app.connections.tokens import AppRefreshGrants
from app.state import AppState
from tests.api.helpers import assert_error
from tests.connections.flow import connect, register_app
from tests.walmart_sim import SimulatorControl, SimulatorServer


async def headers(client: httpx.AsyncClient, walmart: SimulatorServer) -> httpx.Response:
    return await client.post(
        "/v1/accounts/acme-001/headers",
        json={
            "market": "US",
            "environment": "production",
            "method": "GET",
            "url": f"{walmart.base_url}/v3/orders",
        },
    )


async def walmart_accepts(walmart: SimulatorServer, answer: httpx.Response) -> bool:
    async with httpx.AsyncClient() as service:
        called = await service.get(
            f"{walmart.base_url}/v3/orders", headers=answer.json()["headers"]
        )
    return called.status_code == 200


async def refresh(client: httpx.AsyncClient, credential: dict[str, Any]) -> None:
    """Make the next headers call refresh, as a service that got a 401 would."""
    dropped = await client.post(f"/v1/credentials/{credential['id']}/token/invalidate")
    assert dropped.status_code == 204, dropped.text


async def sealed_refresh_token(settings: Settings, credential_id: str) -> str:
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as db:
        sealed = (
            await db.execute(
                text("SELECT sealed_secret FROM credential_versions WHERE state = 'current'")
            )
        ).scalar_one()
    await engine.dispose()
    return str(sealed)


async def refreshing(
    client: httpx.AsyncClient, control: SimulatorControl, settings: Settings, **rotation: bool
) -> tuple[dict[str, Any], str]:
    """A new App Store connection whose next headers call refreshes, and its refresh token as
    sealed now. ``rotation``: ``register_app``'s ``rotate`` and ``retire_at_once``."""
    await register_app(client, control, **rotation)
    credential = await connect(client)
    sealed = await sealed_refresh_token(settings, credential["id"])
    await refresh(client, credential)
    return credential, sealed


async def assert_served(client: httpx.AsyncClient, walmart: SimulatorServer) -> None:
    """Headers for the account, which Walmart accepts."""
    answer = await headers(client, walmart)
    assert answer.status_code == 200, answer.text
    assert await walmart_accepts(walmart, answer)


async def rotated_events(client: httpx.AsyncClient) -> int:
    audit = await client.get("/v1/audit", params={"action": "refresh_token.rotated"})
    return len(audit.json()["items"])


def rotated_tokens(state: AppState) -> RotatedTokens:
    grants = state.issuer.broker.refresh_grants
    assert isinstance(grants, AppRefreshGrants)
    return grants.rotated


async def test_refresh_uses_the_refresh_token_grant(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, walmart: SimulatorServer
) -> None:
    await register_app(client, walmart_control)
    credential = await connect(client)
    first = await headers(client, walmart)
    await refresh(client, credential)
    second = await headers(client, walmart)
    assert second.status_code == 200, second.text
    assert (
        second.json()["headers"]["WM_SEC.ACCESS_TOKEN"]
        != first.json()["headers"]["WM_SEC.ACCESS_TOKEN"]
    )
    assert await walmart_accepts(walmart, second)
    grants = walmart_control.stats()["app_store"]["grants"]
    assert grants == {"authorization_code": 1, "refresh_token": 1}
    calls = [r for r in walmart_control.stats()["requests"] if r["auth"] == "token"]
    assert all("WM_PARTNER.ID" in r["headers"] for r in calls)
    assert all(r["authorization_scheme"] == "Basic" for r in calls)


async def test_a_rotated_refresh_token_is_sealed_and_used_next_time(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    walmart: SimulatorServer,
    settings: Settings,
    vault_state: AppState,
) -> None:
    await register_app(client, walmart_control, rotate=True)
    credential = await connect(client)
    before = await sealed_refresh_token(settings, credential["id"])
    for _ in range(3):  # each refresh needs the token the previous one returned
        await refresh(client, credential)
        answer = await headers(client, walmart)
        assert answer.status_code == 200, answer.text
        assert await walmart_accepts(walmart, answer)
    assert await sealed_refresh_token(settings, credential["id"]) != before
    rotated = (await client.get("/v1/audit", params={"action": "refresh_token.rotated"})).json()
    assert len(rotated["items"]) == 3
    assert walmart_control.stats()["app_store"]["refresh_tokens"] == {"retired": 3, "active": 1}
    assert rotated_tokens(vault_state).held == {}  # each was stored at once


async def test_a_refused_refresh_asks_for_a_reconnect_until_the_seller_connects_again(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, walmart: SimulatorServer
) -> None:
    await register_app(client, walmart_control)
    credential = await connect(client)
    walmart_control.revoke_app(credential["client_id"], credential["seller_id"])
    await refresh(client, credential)
    for _ in range(2):
        error = assert_error(await headers(client, walmart), 409, "reconnect_required")
        assert "acme-001" in error["message"]
        assert error["details"]["account_id"] == "acme-001"
    shown = (await client.get(f"/v1/credentials/{credential['id']}")).json()
    assert shown["status"] == "invalid"
    assert shown["status_reason"] == "reconnect_required"
    assert walmart_control.stats()["app_store"]["refused"] == {"refresh_token": 1}  # asked once
    [refused] = (await client.get("/v1/audit", params={"action": "refresh_token.refused"})).json()[
        "items"
    ]
    assert refused["outcome"] == "reconnect_required"

    reconnected = await connect(client)
    assert reconnected["status"] == "valid"
    assert reconnected["status_reason"] is None
    answer = await headers(client, walmart)
    assert answer.status_code == 200, answer.text
    assert await walmart_accepts(walmart, answer)


async def test_a_401_refusal_counts_the_same(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, walmart: SimulatorServer
) -> None:
    await register_app(client, walmart_control)
    credential = await connect(client)
    walmart_control.app_store_settings(refused_refresh_status=401)
    walmart_control.revoke_app(credential["client_id"], credential["seller_id"])
    await refresh(client, credential)
    assert_error(await headers(client, walmart), 409, "reconnect_required")


async def test_an_outage_is_not_a_reconnect(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, walmart: SimulatorServer
) -> None:
    await register_app(client, walmart_control)
    credential = await connect(client)
    walmart_control.add_fault("/v3/token", status=503, times=1)
    await refresh(client, credential)
    assert_error(await headers(client, walmart), 502, "walmart_unavailable")
    shown = (await client.get(f"/v1/credentials/{credential['id']}")).json()
    assert shown["status"] == "valid"


async def test_credentials_can_be_listed_by_refresh_expiry(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    await register_app(client, walmart_control)
    credential = await connect(client)
    soon = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    assert (await client.get("/v1/credentials", params={"refresh_expires_before": soon})).json()[
        "items"
    ] == []
    listed = (await client.get("/v1/credentials", params={"refresh_expires_before": later})).json()
    assert [c["id"] for c in listed["items"]] == [credential["id"]]


async def test_a_metric_counts_refresh_tokens_ending_soon(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    settings: Settings,
    vault_state: AppState,
) -> None:
    await register_app(client, walmart_control)
    await connect(client)
    await connect(client, account_id="acme-002")

    async def expiring() -> dict[str, float]:
        vault_state.metrics.read_at = float("-inf")  # read the database on this scrape
        text_format = (await client.get("/metrics")).text
        return {
            window: float(line.rsplit(" ", 1)[1])
            for window in ("7d", "30d")
            for line in text_format.splitlines()
            if line.startswith(f'vault_refresh_tokens_expiring{{within="{window}"}}')
        }

    assert await expiring() == {"7d": 0, "30d": 0}
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as db:
        await db.execute(
            text("UPDATE credentials SET refresh_expires_at = :soon WHERE account_id = 'acme-002'"),
            {"soon": datetime.now(UTC) + timedelta(days=10)},
        )
    await engine.dispose()
    assert await expiring() == {"7d": 0, "30d": 1}


async def test_the_live_test_of_a_connection(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    await register_app(client, walmart_control)
    credential = await connect(client)
    tested = await client.post(f"/v1/credentials/{credential['id']}/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is True
    assert walmart_control.stats()["app_store"]["grants"] == {"authorization_code": 1}
    walmart_control.revoke_app(credential["client_id"], credential["seller_id"])
    await refresh(client, credential)
    tested = await client.post(f"/v1/credentials/{credential['id']}/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["outcome"] == "invalid_credentials"
    assert "connect again" in tested.json()["message"]
    shown = (await client.get(f"/v1/credentials/{credential['id']}")).json()
    assert shown["status"] == "invalid"
    assert shown["status_reason"] == "reconnect_required"


async def test_a_rotated_token_with_an_impossible_lifetime_is_kept_for_a_year(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    walmart: SimulatorServer,
    settings: Settings,
) -> None:
    credential, before = await refreshing(client, walmart_control, settings)
    answer = (
        '{"access_token": "a", "token_type": "Bearer", "expires_in": 900, '
        '"refresh_token": "rotated-by-a-careless-walmart", "refresh_token_expires_in": Infinity}'
    )
    walmart_control.add_fault(path_prefix="/v3/token", mode="body", body=answer, times=1)
    assert (await headers(client, walmart)).status_code == 200
    assert await sealed_refresh_token(settings, credential["id"]) != before
    shown = (await client.get(f"/v1/credentials/{credential['id']}")).json()
    ends = datetime.fromisoformat(shown["refresh_expires_at"])
    assert abs(ends - (datetime.now(UTC) + timedelta(days=365))) < timedelta(minutes=5)


async def test_a_rotated_token_is_kept_when_its_access_token_is_unusable(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    walmart: SimulatorServer,
    settings: Settings,
    vault_state: AppState,
) -> None:
    credential, before = await refreshing(client, walmart_control, settings)
    answer = (
        '{"access_token": "a", "token_type": "Bearer", "expires_in": NaN, '
        '"refresh_token": "rotated-with-a-broken-access-token"}'
    )
    walmart_control.add_fault(path_prefix="/v3/token", mode="body", body=answer, times=1)
    assert_error(await headers(client, walmart), 502, "walmart_unavailable")
    assert await sealed_refresh_token(settings, credential["id"]) != before
    assert await rotated_events(client) == 1
    assert rotated_tokens(vault_state).held == {}
