"""Secret hygiene of hand-over links: what a seller pastes, and the link's own token, appear in
no page, log record, audit event or database column, whatever the submission's fate."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

from app.config import Settings
from tests.api.test_secret_hygiene import _database_dump
from tests.factories import CHANNEL_TYPE, new_rsa_key, oauth_body, seller_center_key
from tests.intake.helpers import create_link, open_form, post_form, signature_fields, token_path
from tests.walmart_sim import SimulatorControl


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "intake_submissions_per_link_per_minute": 20,
            "intake_submissions_per_address_per_minute": 50,
        }
    )


async def test_no_pasted_secret_or_link_token_leaks(
    client: httpx.AsyncClient,
    seller: httpx.AsyncClient,
    settings: Settings,
    walmart_control: SimulatorControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key, wrong = new_rsa_key(1024), new_rsa_key(1024)
    walmart_control.add_consumer("hygiene-consumer", key, channel_type=CHANNEL_TYPE)
    secret = "CANARY-oauth-secret-7d1f0b"
    oauth = oauth_body(account_id="acme-001", secret=secret)["auth"]
    walmart_control.add_oauth_client(oauth["client_id"], secret)
    pages: list[httpx.Response] = []
    signature = await create_link(client)
    oauth_link = await create_link(client, account_id="acme-001", market="US", kind="oauth")
    links = [signature, oauth_link]
    for link, fields in (
        (signature, signature_fields("unknown-consumer", seller_center_key(wrong))),
        (signature, signature_fields("hygiene-consumer", seller_center_key(key)[:-40])),
        (signature, signature_fields("hygiene-consumer", seller_center_key(key))),
        (signature, signature_fields("hygiene-consumer", seller_center_key(key))),
        (oauth_link, {"client_id": oauth["client_id"], "client_secret": secret + "x"}),
        (oauth_link, {"client_id": oauth["client_id"], "client_secret": secret}),
    ):
        path = token_path(link)
        opened = await seller.get(path)
        pages.append(opened)
        csrf = (await open_form(seller, path))[1] if opened.status_code == 200 else None
        pages.append(await post_form(seller, path, fields, csrf))
        pages.append(await post_form(seller, path, fields, "f" * 64))  # a stale form
    assert [p.status_code for p in pages[6:12]] == [200, 200, 410, 410, 410, 410]
    assert [p.status_code for p in pages[15:18]] == [200, 200, 410]
    pages.append(await client.get("/v1/intake-links"))
    pages.append(await client.get("/v1/audit", params={"limit": 200}))
    tokens = {f"link token {n}": link["url"].rsplit("/", 1)[1] for n, link in enumerate(links)}
    canaries = {
        "private key (base64)": seller_center_key(key)[40:100],
        "wrong key (base64)": seller_center_key(wrong)[40:100],
        "private key (hex)": base64.b64decode(seller_center_key(key)).hex()[80:200],
        "client secret": secret,
    } | tokens
    shown = "\n".join(p.text + repr(p.headers) for p in pages)
    # The test's own HTTP client logs the URLs it opens (the seller's browser knows its link).
    own = [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
    vault_side = [r for r in caplog.records if r not in own or "vault.test" not in r.getMessage()]
    logs = "\n".join(f"{r.getMessage()} {vars(r)}" for r in vault_side)
    dump = await _database_dump(settings.database_url)
    for name, canary in canaries.items():
        assert canary not in shown, f"{name} in a page or answer"
        assert canary not in logs, f"{name} in a log record"
        assert canary not in dump, f"{name} in the database"
    assert "CANARY" not in dump
    assert "intake_link.used" in dump  # the scan saw the audit trail it vouches for
