"""Refused hand-overs: the right words next to the field, an empty key field, nothing echoed,
and a link that stops after 5 refused submissions."""

from __future__ import annotations

import re

import httpx
import pytest

from app.config import Settings
from tests.crypto.leaks import secret_fragments
from tests.crypto.test_private_keys_refused import refused_inputs
from tests.factories import CHANNEL_TYPE, new_rsa_key, pem_pkcs8, rsa_key, seller_center_key
from tests.intake.helpers import create_link, open_form, post_form, signature_fields, token_path
from tests.walmart_sim import SimulatorControl

EMPTY_KEY_FIELD = re.compile(r'<textarea id="private_key"[^>]*>\s*</textarea>')
KEY_CLASSES = [
    "ec pkcs8 base64",
    "encrypted pkcs8 pem",
    "truncated der",
    "certificate base64",
    "public pem",
    "not base64",
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The 5-failure stop is what this module tests, not the per-minute limit.
    return settings.model_copy(update={"intake_submissions_per_link_per_minute": 20})


def _assert_no_echo(page: httpx.Response, pasted: str) -> None:
    assert EMPTY_KEY_FIELD.search(page.text), "the key field comes back empty"
    leaked = [fragment for fragment in secret_fragments(pasted) if fragment in page.text]
    assert not leaked, f"the page echoes what was pasted: {leaked[:3]}"


@pytest.mark.parametrize("name", KEY_CLASSES)
async def test_each_bad_key_class_gets_its_message(
    client: httpx.AsyncClient, seller: httpx.AsyncClient, name: str
) -> None:
    key = rsa_key()
    pasted, words = refused_inputs(key, pem_pkcs8(key).encode())[name]
    path = token_path(await create_link(client))
    _, csrf = await open_form(seller, path)
    page = await post_form(seller, path, signature_fields("c-42", pasted), csrf)
    assert page.status_code == 422
    error = re.search(r'id="private_key-error">(.*?)</p>', page.text, re.S)
    assert error is not None, "the message stands next to the key field"
    assert words.lower() in error.group(1).lower()
    assert "There is a problem" in page.text
    assert 'href="#private_key"' in page.text  # the summary links to the field
    assert 'value="c-42"' in page.text
    _assert_no_echo(page, pasted)
    (link,) = (await client.get("/v1/intake-links")).json()["items"]
    assert (link["state"], link["failures"]) == ("active", 1)
    audit = (await client.get("/v1/audit", params={"action": "intake_link.failed"})).json()
    (event,) = audit["items"]
    assert event["details"]["reason"] == "invalid_private_key"
    assert event["details"]["counted"] is True
    assert not [f for f in secret_fragments(pasted) if f in str(event)]


async def test_keys_walmart_refuses_are_named_and_outages_do_not_count(
    client: httpx.AsyncClient, seller: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    key = new_rsa_key(1024)
    pasted = seller_center_key(key)
    path = token_path(await create_link(client))
    _, csrf = await open_form(seller, path)
    refused = await post_form(seller, path, signature_fields("unknown-to-walmart", pasted), csrf)
    assert refused.status_code == 422
    assert "Walmart did not accept this Consumer ID and Private Key" in refused.text
    assert "Regenerate Key deactivates the one before it" in refused.text
    _assert_no_echo(refused, pasted)
    walmart_control.add_consumer("known", key, channel_type=CHANNEL_TYPE)
    walmart_control.add_fault(status=503)
    outage = await post_form(seller, path, signature_fields("known", pasted), csrf)
    assert outage.status_code == 422
    assert "could not reach Walmart" in outage.text
    _assert_no_echo(outage, pasted)
    (link,) = (await client.get("/v1/intake-links")).json()["items"]
    assert (link["state"], link["failures"]) == ("active", 1)
    assert (await client.get("/v1/credentials")).json()["items"] == []


async def test_link_stops_after_five_refused_submissions(
    client: httpx.AsyncClient, seller: httpx.AsyncClient
) -> None:
    path = token_path(await create_link(client))
    _, csrf = await open_form(seller, path)
    fields = signature_fields("c-1", "not a key at all!")
    for tries_left in (4, 3, 2, 1):
        page = await post_form(seller, path, fields, csrf)
        assert page.status_code == 422
        assert f"You can try {tries_left} more time" in page.text
    last = await post_form(seller, path, fields, csrf)
    assert last.status_code == 410
    assert "stopped working" in last.text
    assert "not valid base64" in last.text  # what was wrong the last time
    assert (await seller.get(path)).status_code == 410
    (link,) = (await client.get("/v1/intake-links")).json()["items"]
    assert (link["state"], link["failures"]) == ("failed", 5)
