"""A seller hands over a Canadian key set at a hand-over link, in Debian's Chromium.

The vault runs over real HTTP on loopback (``live_vault``); every request that would leave
loopback is aborted and recorded, and every CSP violation is recorded, so each test ends by
asserting the form needed nothing from outside and broke no rule of its own policy.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.async_api import Page

from tests.api.test_secret_hygiene import _database_dump
from tests.browser.conftest import BrowserPage, LiveVault
from tests.conftest import BOOTSTRAP_TOKEN
from tests.factories import CHANNEL_TYPE, new_rsa_key, seller_center_key
from tests.walmart_sim import SimulatorControl

CONSUMER_ID = "5c2e8a10-browser-seller"


def _operator(vault: LiveVault) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=vault.url, headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    )


async def _link(vault: LiveVault, **overrides: Any) -> str:
    body = {"account_id": "acme-ca", "market": "CA", "environment": "production"}
    body |= {"kind": "signature", "label": "Acme Canada"} | overrides
    async with _operator(vault) as operator:
        answer = await operator.post("/v1/intake-links", json=body)
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["url"]
    assert url.startswith(f"{vault.url}/intake/")
    return url


async def _paste(page: Page, selector: str, text: str) -> None:
    """Paste ``text`` into the focused ``selector`` the way a seller does: from the clipboard."""
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.focus(selector)
    await page.evaluate("text => navigator.clipboard.writeText(text)", text)
    await page.keyboard.press("Control+V")


async def test_seller_pastes_the_key_and_the_link_then_says_used(
    live_vault: LiveVault,
    browser_page: BrowserPage,
    walmart_control: SimulatorControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = new_rsa_key(1024)
    walmart_control.add_consumer(CONSUMER_ID, key, channel_type=CHANNEL_TYPE)
    url = await _link(live_vault)
    page = browser_page.page
    opened = await page.goto(url)
    assert opened is not None
    assert opened.status == 200
    assert await page.locator("h1").inner_text() == "Send your Walmart API keys to mPorts"
    assert await page.get_by_text("Administrator Options").count() == 1
    await page.fill("#consumer_id", CONSUMER_ID)
    await _paste(page, "#private_key", seller_center_key(key))
    assert await page.input_value("#private_key") == seller_center_key(key)
    await page.fill("#channel_type", CHANNEL_TYPE)
    await page.get_by_role("button", name="Check and send keys").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Your keys are with mPorts"
    fingerprint = await page.locator("[data-fingerprint]").inner_text()
    async with _operator(live_vault) as operator:
        listed = (await operator.get("/v1/credentials")).json()["items"]
    assert [c["fingerprint"] for c in listed] == [fingerprint]
    assert seller_center_key(key)[:60] not in await page.content()
    again = await page.goto(url)
    assert again is not None
    assert again.status == 410
    assert await page.locator("h1").inner_text() == "This link has already been used"
    browser_page.assert_self_contained()
    # The key the seller pasted is in no log record of the vault and no database column.
    pasted = seller_center_key(key)
    der_hex = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).hex()
    logs = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    dump = await _database_dump(live_vault.settings.database_url)
    assert "intake_link.used" in dump
    assert "/intake/{token}" in logs  # the scan read the vault's request log
    for canary in (pasted[40:100], der_hex[80:200], url.rsplit("/", 1)[1]):
        assert canary not in logs
        assert canary not in dump


async def test_wrong_key_shows_its_message_with_an_empty_key_field(
    live_vault: LiveVault, browser_page: BrowserPage
) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pasted = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    page = browser_page.page
    await page.goto(await _link(live_vault))
    await page.fill("#consumer_id", CONSUMER_ID)
    await page.fill("#private_key", pasted)
    await page.fill("#channel_type", CHANNEL_TYPE)
    await page.get_by_role("button", name="Check and send keys").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("alert").get_by_text("There is a problem").count() == 1
    focused = await page.evaluate("document.activeElement.className")
    assert focused == "error-summary"  # the keyboard starts at the errors
    message = await page.locator("#private_key-error").inner_text()
    assert "EC (elliptic curve), not RSA" in message
    assert await page.input_value("#private_key") == ""
    assert await page.input_value("#consumer_id") == CONSUMER_ID
    await page.get_by_role("link", name="EC (elliptic curve)").click()
    assert await page.evaluate("document.activeElement.id") == "private_key"
    browser_page.assert_self_contained()


async def test_keyboard_alone_hands_the_keys_over(
    live_vault: LiveVault, browser_page: BrowserPage, walmart_control: SimulatorControl
) -> None:
    key = new_rsa_key(1024)
    walmart_control.add_consumer(CONSUMER_ID, key, channel_type=CHANNEL_TYPE)
    page = browser_page.page
    await page.goto(await _link(live_vault))
    for field, text in (
        ("consumer_id", CONSUMER_ID),
        ("private_key", seller_center_key(key)),
        ("channel_type", CHANNEL_TYPE),
    ):
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == field
        await page.keyboard.insert_text(text)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.tagName") == "BUTTON"
    await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Your keys are with mPorts"
    browser_page.assert_self_contained()


async def test_rotation_link_warns_that_regenerate_key_deactivates_the_old_key(
    live_vault: LiveVault, browser_page: BrowserPage, walmart_control: SimulatorControl
) -> None:
    old, new = new_rsa_key(1024), new_rsa_key(1024)
    walmart_control.add_consumer(CONSUMER_ID, old, channel_type=CHANNEL_TYPE)
    auth = {"kind": "signature", "consumer_id": CONSUMER_ID, "channel_type": CHANNEL_TYPE}
    body: dict[str, Any] = {"account_id": "acme-ca", "market": "CA", "environment": "production"}
    body |= {"label": "Acme Canada", "auth": auth | {"private_key": seller_center_key(old)}}
    async with _operator(live_vault) as operator:
        created = await operator.post("/v1/credentials", json=body)
    assert created.status_code == 201, created.text
    page = browser_page.page
    await page.goto(await _link(live_vault, credential_id=created.json()["id"]))
    warning = await page.locator("[data-warning=regenerate]").inner_text()
    assert "Regenerate Key deactivates your old Private Key" in warning
    assert await page.input_value("#consumer_id") == CONSUMER_ID  # it stays the same
    walmart_control.add_consumer(CONSUMER_ID, new, channel_type=CHANNEL_TYPE)
    await _paste(page, "#private_key", seller_center_key(new))
    await page.get_by_role("button", name="Check and send keys").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Your keys are with mPorts"
    async with _operator(live_vault) as operator:
        rotated = (await operator.get(f"/v1/credentials/{created.json()['id']}")).json()
    assert rotated["version"] == 2
    assert rotated["fingerprint"] == await page.locator("[data-fingerprint]").inner_text()
    browser_page.assert_self_contained()
