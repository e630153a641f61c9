"""The operators' docs page works with no network beyond the vault: Swagger UI loads from the
vault's own files under its strict policy, Authorize takes a token, and Try it out lists the
API clients with a 200."""

from __future__ import annotations

import re
import time

import httpx
from playwright.async_api import expect

from app.api_docs.router import CONTENT_SECURITY_POLICY
from tests.browser.conftest import BrowserPage, LiveVault
from tests.conftest import BOOTSTRAP_TOKEN


async def test_docs_authorize_and_try_a_list_offline(
    live_vault: LiveVault, browser_page: BrowserPage
) -> None:
    started = time.perf_counter()
    page = browser_page.page
    answer = await page.goto(f"{live_vault.url}/docs")
    assert answer is not None
    assert answer.status == 200
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["cache-control"] == "no-store"

    await page.get_by_role("button", name=re.compile("Authorize")).first.click()
    dialog = page.locator(".dialog-ux")
    # The API clients' scheme; the dialog also offers /metrics' own (MetricsToken).
    clients = dialog.locator("form").filter(has_text="HTTPBearer (http, Bearer)")
    await expect(dialog.locator("form").filter(has_text="MetricsToken")).to_have_count(1)
    await clients.locator("input").fill(BOOTSTRAP_TOKEN)
    await clients.locator(".auth-btn-wrapper button.authorize").click()
    await expect(clients.locator(".auth-btn-wrapper button", has_text="Logout")).to_be_visible()
    await clients.locator(".auth-btn-wrapper button.btn-done").click()

    operation = page.locator("#operations-clients-list_clients_v1_clients_get")
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    await expect(status).to_have_text("200", timeout=10_000)
    body = await operation.locator(".live-responses-table .microlight").first.inner_text()
    assert '"name": "bootstrap"' in body

    browser_page.assert_self_contained()
    print(f"docs offline browser test: {time.perf_counter() - started:.2f} s")


async def test_docs_page_loads_nothing_from_outside(live_vault: LiveVault) -> None:
    async with httpx.AsyncClient(base_url=live_vault.url) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(assets) == 4
        assert all(a.startswith("/docs-assets/") for a in assets), assets
        for asset in assets:
            assert (await http.get(asset)).status_code == 200, asset
        assert (await http.get("/redoc")).status_code == 404
