"""A seller connects through Walmart's consent page in a real browser, and a service then
calls Walmart with the headers the vault issues: no secret typed by anyone.

Chromium goes to the consent URL the vault made, presses the simulator's Authorize (or
Decline) button, follows Walmart's redirect to the vault's callback page and reads it. Also:
a replayed callback URL, an expired state, and a state altered in the link.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from tests.browser.conftest import BrowserPage, LiveVault
from tests.conftest import BOOTSTRAP_TOKEN
from tests.walmart_sim import SimulatorControl, SimulatorServer

APP_CLIENT_ID = "mports-app-browser"
APP_SECRET = "mports-app-secret-browser-0123456789"
CALLBACK = "/connect/walmart/callback"


@pytest.fixture
def settings(settings: Settings, walmart: SimulatorServer) -> Settings:
    return settings.model_copy(update={"walmart_consent_url": f"{walmart.base_url}/consent"})


@pytest.fixture
async def vault_api(live_vault: LiveVault) -> AsyncIterator[httpx.AsyncClient]:
    auth = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    async with httpx.AsyncClient(base_url=live_vault.url, headers=auth, timeout=15) as client:
        yield client


@pytest.fixture
def app_registered(live_vault: LiveVault, walmart_control: SimulatorControl) -> SimulatorControl:
    walmart_control.add_app(APP_CLIENT_ID, APP_SECRET, [live_vault.url + CALLBACK])
    return walmart_control


async def new_link(vault_api: httpx.AsyncClient) -> dict[str, Any]:
    if not (await vault_api.get("/v1/walmart-apps")).json()["items"]:
        app = await vault_api.post(
            "/v1/walmart-apps",
            json={
                "label": "mPorts",
                "environment": "production",
                "client_id": APP_CLIENT_ID,
                "client_secret": APP_SECRET,
            },
        )
        assert app.status_code == 201, app.text
    link = await vault_api.post(
        "/v1/connections",
        json={
            "account_id": "acme-001",
            "market": "US",
            "environment": "production",
            "label": "Acme main store",
        },
    )
    assert link.status_code == 201, link.text
    created: dict[str, Any] = link.json()
    return created


async def press(page: Page, button: str) -> Response:
    """Press a consent button; the vault's callback answer the browser lands on."""
    async with page.expect_response(lambda r: CALLBACK in r.url) as answer:
        await page.get_by_role("button", name=button).click()
    await page.wait_for_load_state()
    return await answer.value


async def heading(page: Page) -> str:
    return await page.locator("h1").inner_text()


async def test_a_seller_connects_in_the_browser_and_walmart_accepts_the_headers(
    browser_page: BrowserPage,
    vault_api: httpx.AsyncClient,
    app_registered: SimulatorControl,
    walmart: SimulatorServer,
) -> None:
    page = browser_page.page
    started = time.perf_counter()
    link = await new_link(vault_api)
    await page.goto(link["consent_url"])
    assert await heading(page) == "Authorize app"
    answer = await press(page, "Authorize")
    assert answer.status == 200
    assert await heading(page) == "Your Walmart account is connected"
    assert await page.locator("main").get_attribute("data-outcome") == "success"
    assert answer.headers["cache-control"] == "no-store"
    issued = await vault_api.post(
        "/v1/accounts/acme-001/headers",
        json={
            "market": "US",
            "environment": "production",
            "method": "GET",
            "url": f"{walmart.base_url}/v3/orders?limit=10",
        },
    )
    assert issued.status_code == 200, issued.text
    async with httpx.AsyncClient() as service:
        called = await service.get(
            f"{walmart.base_url}/v3/orders?limit=10", headers=issued.json()["headers"]
        )
    elapsed = time.perf_counter() - started
    assert called.status_code == 200, called.text
    assert app_registered.stats()["app_store"]["grants"] == {"authorization_code": 1}
    print(f"\nconsent URL -> Authorize -> callback page -> signed call: {elapsed:.2f} s")
    browser_page.assert_self_contained()

    # The same callback URL again (the back button, a reload, a leaked link) changes nothing.
    replay = await page.goto(page.url)
    assert replay is not None
    assert replay.status == 409
    assert await heading(page) == "This connection link was already used"
    assert len((await vault_api.get("/v1/credentials")).json()["items"]) == 1


async def test_declining_in_the_browser(
    browser_page: BrowserPage, vault_api: httpx.AsyncClient, app_registered: SimulatorControl
) -> None:
    page = browser_page.page
    link = await new_link(vault_api)
    await page.goto(link["consent_url"])
    answer = await press(page, "Decline")
    assert answer.status == 403
    assert await heading(page) == "You declined the connection"
    assert "press Connect again" in await page.locator("main").inner_text()
    assert (await vault_api.get("/v1/credentials")).json()["items"] == []
    browser_page.assert_self_contained()


async def test_an_expired_state_in_the_browser(
    browser_page: BrowserPage,
    vault_api: httpx.AsyncClient,
    app_registered: SimulatorControl,
    live_vault: LiveVault,
) -> None:
    page = browser_page.page
    link = await new_link(vault_api)
    await page.goto(link["consent_url"])
    engine = create_async_engine(live_vault.settings.database_url)
    async with engine.begin() as db:  # the seller took longer than the link lives
        await db.execute(
            text("UPDATE connections SET expires_at = :past"),
            {"past": datetime.now(UTC) - timedelta(seconds=1)},
        )
    await engine.dispose()
    answer = await press(page, "Authorize")
    assert answer.status == 410
    assert await heading(page) == "This connection link has expired"
    assert (await vault_api.get("/v1/credentials")).json()["items"] == []
    assert app_registered.stats()["app_store"]["grants"] == {}


async def test_a_tampered_state_in_the_browser(
    browser_page: BrowserPage, vault_api: httpx.AsyncClient, app_registered: SimulatorControl
) -> None:
    page = browser_page.page
    link = await new_link(vault_api)
    parts = urlsplit(link["consent_url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = query["state"][::-1]  # the link was altered before the seller used it
    await page.goto(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}")
    answer = await press(page, "Authorize")
    assert answer.status == 400
    assert await heading(page) == "This connection link is not valid"
    assert (await vault_api.get("/v1/credentials")).json()["items"] == []
    shown = (await vault_api.get(f"/v1/connections/{link['id']}")).json()
    assert shown["status"] == "pending"
