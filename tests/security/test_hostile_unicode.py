"""Unicode oddities in labels, names, account ids and secrets.

Proves that odd but valid Unicode labels (emoji, bidi overrides, ZWJ sequences, combining
marks, fullwidth forms, BOM, C1 controls) are stored and returned exactly or refused with a
clear 422, never mangled; that look-alike and non-ASCII account ids are refused wherever an
account id is accepted; and that strings no database or cipher can encode (lone surrogates)
are a 422, never a 500.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from app.config import Settings
from tests.factories import oauth_body, signature_body
from tests.security.world import World, assert_refused

# Emoji, RTL override, ZWJ family, combining accents, NBSP, fullwidth, BOM, C1 NEL, a 150-mark
# stack, 200 astral characters (the maximum), case-folding traps.
LABELS = [
    "Acme \U0001f6d2 store",
    "\u202eerots emcA",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "e\u0301te\u0301",
    "\u00a0nbsp\u00a0",
    "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48",
    "\ufeffbom",
    "nel\x85c1",
    "z" + "\u0336" * 150,
    "\U0001f600" * 200,
    "\u01c4 \u00df \ufb01 \u0130 \u0131",
]


async def test_unicode_labels_are_stored_exactly_or_refused(
    http: httpx.AsyncClient, world: World, security_counts: Counter[str]
) -> None:
    path = f"/v1/credentials/{world.signature_id}"
    for label in LABELS:
        response = await http.patch(path, json={"label": label})
        assert response.status_code == 200, (label, response.text)
        assert (await http.get(path)).json()["label"] == label
        security_counts["hostile cases"] += 1
        if len(label) <= 100:  # longer client names: test_client_name_of_the_documented_length
            created = await http.post("/v1/clients", json={"name": label, "scopes": ["audit:read"]})
            assert created.status_code == 201, created.text
            assert created.json()["name"] == label
            security_counts["hostile cases"] += 1
    for label in ("\U0001f600" * 201, "tab\there", "nul\x00", "del\x7f", ""):
        response = await http.patch(path, json={"label": label})
        assert_refused(response, 422, "validation_error", counts=security_counts)
    # A lone surrogate cannot be stored as UTF-8: refused, not crashed.
    raw = json.dumps({"label": "half \ud800 pair"})
    response = await http.patch(path, content=raw, headers={"Content-Type": "application/json"})
    assert_refused(response, 422, "validation_error", counts=security_counts)


async def test_client_name_of_the_documented_length_is_stored_or_refused(
    http: httpx.AsyncClient, request: pytest.FixtureRequest, settings: Settings
) -> None:
    response = await http.post("/v1/clients", json={"name": "n" * 150, "scopes": ["audit:read"]})
    assert response.status_code in (201, 422), response.text
    if response.status_code == 201:
        assert response.json()["name"] == "n" * 150


# Fullwidth and Cyrillic look-alikes of "acme", zero-width space, accented, combining mark,
# dotless i, BOM, Arabic-Indic digits, line separator, and two that do not start alphanumeric.
ACCOUNTS = [
    "\uff41\uff43\uff4d\uff45",
    "\u0430\u0441\u043c\u0435",
    "acme\u200b",
    "ACM\u00c9",
    "acme\u0301",
    "\u0131",
    "\ufeffacme",
    "\u0661\u0662\u0663",
    "acme\u2028",
    "-acme",
    ".acme",
]


async def test_non_ascii_account_ids_are_refused_everywhere(
    http: httpx.AsyncClient, world: World, security_counts: Counter[str]
) -> None:
    headers_body = {
        "market": "CA",
        "environment": "production",
        "method": "GET",
        "url": world.feeds_url(),
    }
    for account in ACCOUNTS:
        attempts: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", "/v1/credentials", {"json": signature_body(account_id=account)}),
            ("GET", "/v1/credentials", {"params": {"account_id": account}}),
            ("GET", "/v1/audit", {"params": {"account_id": account}}),
            ("POST", f"/v1/accounts/{quote(account, safe='')}/headers", {"json": headers_body}),
            (
                "POST",
                "/v1/clients",
                {"json": {"name": "n", "scopes": ["headers:issue"], "account_ids": [account]}},
            ),
        ]
        for method, path, kwargs in attempts:
            response = await http.request(method, path, **kwargs)
            assert_refused(response, 422, "validation_error", counts=security_counts)


@pytest.mark.parametrize("operation", ["create", "rotate"])
async def test_secret_that_is_not_encodable_is_a_422(
    http: httpx.AsyncClient, world: World, operation: str
) -> None:
    auth = oauth_body()["auth"] | {"client_secret": "secret-\ud800-half"}
    body: dict[str, Any] = {"auth": auth, "test": False}
    path = f"/v1/credentials/{world.oauth_id}/rotate"
    if operation == "create":
        body, path = oauth_body(account_id="surrogate") | {"auth": auth}, "/v1/credentials"
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape \ud800
    response = await http.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert_refused(response, 422)
