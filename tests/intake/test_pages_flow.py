"""The seller's pages over HTTP: open the form, hand keys over, and what a link says after."""

from __future__ import annotations

import hashlib
import html

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.pages.render import CONTENT_SECURITY_POLICY
from tests.api.walmart_setup import signature_credential
from tests.factories import CHANNEL_TYPE, new_rsa_key, public_pem, seller_center_key
from tests.intake.helpers import (
    audit_actions,
    create_link,
    open_form,
    post_form,
    signature_fields,
    token_path,
)
from tests.walmart_sim import SimulatorControl

CONSUMER_ID = "7a3c9e1d-intake-flow"


def _spki_sha256(key: object) -> str:
    from cryptography.hazmat.primitives import serialization

    der = key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


async def _sql(url: str, statement: str, **values: object) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement), values)
    finally:
        await engine.dispose()


async def test_form_follows_the_help_page_and_carries_the_page_headers(
    client: httpx.AsyncClient, seller: httpx.AsyncClient
) -> None:
    page, _ = await open_form(seller, token_path(await create_link(client)))
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    words = html.unescape(page.text)
    for step in (
        "Seller Center",
        "gear icon",
        "Administrator Options",
        "API Credentials",
        "Generate Consumer ID & Private Key",
        "Copy",
    ):
        assert step in words, step
    for name in ("consumer_id", "private_key", "channel_type", "csrf_token"):
        assert f'name="{name}"' in page.text
    assert "Regenerate Key" not in words  # a first hand-over: nothing to deactivate
    assert "<script" not in page.text


async def test_seller_hands_over_keys_once(
    client: httpx.AsyncClient, seller: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    key = new_rsa_key(1024)
    walmart_control.add_consumer(CONSUMER_ID, key, channel_type=CHANNEL_TYPE)
    link = await create_link(client)
    path = token_path(link)
    _, csrf = await open_form(seller, path)
    done = await post_form(
        seller, path, signature_fields(CONSUMER_ID, seller_center_key(key)), csrf
    )
    assert done.status_code == 200, done.text
    assert _spki_sha256(key) in done.text
    assert 'data-status="valid"' in done.text
    assert seller_center_key(key)[40:100] not in done.text
    (credential,) = (await client.get("/v1/credentials")).json()["items"]
    assert (credential["status"], credential["label"]) == ("valid", "Acme Canada")
    assert credential["fingerprint"] == _spki_sha256(key)
    (listed,) = (await client.get("/v1/intake-links")).json()["items"]
    assert (listed["state"], listed["result_credential_id"]) == ("used", credential["id"])
    again = await seller.get(path)
    assert again.status_code == 410
    assert "already been used" in again.text
    resent = await post_form(
        seller, path, signature_fields(CONSUMER_ID, seller_center_key(key)), csrf
    )
    assert resent.status_code == 410
    assert await audit_actions(client) == ["intake_link.created", "intake_link.used"]
    created = await audit_actions(client, "credential.created")
    assert created == ["credential.created"]


async def test_rotation_link_warns_and_rotates(
    client: httpx.AsyncClient, seller: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    link = await create_link(client, credential_id=credential["id"])
    path = token_path(link)
    page, csrf = await open_form(seller, path)
    words = html.unescape(page.text)
    assert "Regenerate Key deactivates your old Private Key" in words
    assert f'value="{credential["consumer_id"]}"' in page.text  # the Consumer ID stays
    new_key = new_rsa_key(1024)
    walmart_control.add_consumer(credential["consumer_id"], public_pem(new_key), CHANNEL_TYPE)
    fields = signature_fields(credential["consumer_id"], seller_center_key(new_key))
    done = await post_form(seller, path, fields, csrf)
    assert done.status_code == 200, done.text
    rotated = (await client.get(f"/v1/credentials/{credential['id']}")).json()
    assert (rotated["version"], rotated["fingerprint"]) == (2, _spki_sha256(new_key))
    assert "credential.rotated" in await audit_actions(client, "credential.")


async def test_gone_links_say_why_and_whom_to_ask(
    client: httpx.AsyncClient, seller: httpx.AsyncClient, settings: Settings
) -> None:
    expired, revoked = await create_link(client), await create_link(client, account_id="b")
    await _sql(
        settings.database_url,
        "UPDATE intake_links SET expires_at = created_at WHERE account_id = :account",
        account=expired["account_id"],
    )
    assert (await client.delete(f"/v1/intake-links/{revoked['id']}")).status_code == 204
    for link, words in ((expired, "has expired"), (revoked, "was cancelled")):
        page = await seller.get(token_path(link))
        assert page.status_code == 410
        assert words in page.text
        assert html.escape(settings.intake_contact) in page.text
    for path in ("/intake/mpvl_" + "A" * 43, "/intake/nonsense"):
        unknown = await seller.get(path)
        assert unknown.status_code == 404
        assert "not valid" in unknown.text


async def test_stale_or_missing_csrf_token_is_refused_without_counting(
    client: httpx.AsyncClient, seller: httpx.AsyncClient
) -> None:
    path = token_path(await create_link(client))
    fields = signature_fields("c-1", "MIIB")
    for csrf in (None, "0" * 64):
        page = await post_form(seller, path, fields, csrf)
        assert page.status_code == 422
        assert "out of date" in page.text
    (link,) = (await client.get("/v1/intake-links")).json()["items"]
    assert (link["state"], link["failures"]) == ("active", 0)
    assert await audit_actions(client) == ["intake_link.created"] + ["intake_link.failed"] * 2


async def test_incomplete_form_names_each_field(
    client: httpx.AsyncClient, seller: httpx.AsyncClient
) -> None:
    path = token_path(await create_link(client))
    _, csrf = await open_form(seller, path)
    page = await post_form(seller, path, {"consumer_id": "  has space  ", "private_key": ""}, csrf)
    assert page.status_code == 422
    assert "Enter your Private Key" in page.text
    assert "Enter your Channel Type" in page.text
    assert 'value="has space"' in page.text  # what was typed comes back, trimmed
    spaced = await post_form(
        seller, path, signature_fields("has space", "MIIB") | {"consumer_id": "a b"}, csrf
    )
    assert "Consumer ID must have no spaces or line breaks" in spaced.text


async def test_oauth_form_names_the_developer_portal_and_the_market_rules(
    client: httpx.AsyncClient, seller: httpx.AsyncClient
) -> None:
    us = await create_link(client, account_id="acme-001", market="US", kind="oauth")
    page, _ = await open_form(seller, token_path(us))
    words = html.unescape(page.text)
    for step in ("Developer Portal", "API Key Management", "Client ID", "Client Secret"):
        assert step in words, step
    assert '<input type="password" id="client_secret"' in page.text
    assert "Channel Type (if Walmart gave you one)" in words
    assert "<title>Send your Walmart API keys to mPorts" in page.text
    mx = await create_link(client, account_id="acme-mx", market="MX", kind="oauth")
    mx_path = token_path(mx)
    _, mx_csrf = await open_form(seller, mx_path)
    refused = await post_form(seller, mx_path, {"client_id": "c", "client_secret": "s"}, mx_csrf)
    assert refused.status_code == 422
    assert "Enter your Channel Type" in refused.text  # Walmart requires it in Mexico
    assert "<title>Error: Send your Walmart API keys" in refused.text
    assert 'value="s"' not in refused.text


async def test_what_no_browser_sends_is_refused_without_a_server_error(
    client: httpx.AsyncClient, seller: httpx.AsyncClient
) -> None:
    path = token_path(await create_link(client))
    other = token_path(await create_link(client, account_id="b"))
    many = {f"field{n}": "x" for n in range(50)}
    hostile = [
        await seller.post(path, files={"private_key": ("key.pem", b"-----BEGIN")}),
        await seller.post(path, data=many),
        await seller.post(other, json={"private_key": "x"}),
        await seller.post(other, content=b"\xff\xfe=\x00", headers={"content-type": "text/plain"}),
    ]
    assert [answer.status_code for answer in hostile] == [400, 400, 422, 422]
    links = (await client.get("/v1/intake-links")).json()["items"]
    assert [(link["state"], link["failures"]) for link in links] == [("active", 0)] * 2
