"""The frame every seller page shares: headers, stylesheet, and nothing from outside."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from app.pages.render import CONTENT_SECURITY_POLICY, STATIC_PATH, render_message, static_files
from tests.browser.conftest import BrowserPage, served
from tests.replicas import free_port


def _pages_app() -> FastAPI:
    app = FastAPI()
    app.mount(STATIC_PATH, static_files(), name="pages-static")

    @app.get("/message")
    async def message(request: Request, text: str = "") -> HTMLResponse:
        return render_message(
            request, title="Connected", paragraphs=["All done.", text], outcome="success"
        )

    return app


def test_a_page_carries_the_seller_page_headers() -> None:
    with served(_pages_app(), free_port()) as url:
        answer = httpx.get(f"{url}/message")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY  # no script runs on a seller page
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-frame-options"] == "DENY"


def test_text_is_escaped() -> None:
    with served(_pages_app(), free_port()) as url:
        answer = httpx.get(f"{url}/message", params={"text": "<script>alert(1)</script>"})
    assert "<script>" not in answer.text
    assert "&lt;script&gt;" in answer.text


async def test_the_page_renders_styled_with_nothing_from_outside(
    browser_page: BrowserPage,
) -> None:
    page = browser_page.page
    with served(_pages_app(), free_port()) as url:
        await page.goto(f"{url}/message")
        assert await page.locator("h1").inner_text() == "Connected"
        assert await page.locator("main").get_attribute("data-outcome") == "success"
        # The vault's own stylesheet applied (the CSP allows 'self' styles only).
        border = await page.locator("main").evaluate("e => getComputedStyle(e).borderLeftStyle")
        assert border == "solid"
        # A stylesheet from outside would be blocked by both the route and the policy.
        await page.evaluate(
            "() => { const l = document.createElement('link'); l.rel = 'stylesheet';"
            " l.href = 'https://cdn.example.com/x.css'; document.head.appendChild(l); }"
        )
        await page.wait_for_timeout(200)
    assert browser_page.csp_violations, "an outside stylesheet must violate the page's policy"
    browser_page.csp_violations.clear()
    browser_page.assert_self_contained()
