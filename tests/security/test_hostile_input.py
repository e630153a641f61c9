"""Hostile values aimed at headers: Walmart's, and the vault's own X-Request-ID echo.

Proves that every field that can reach a Walmart request header (``consumer_id``,
``client_id``, ``channel_type`` on create, patch and rotate; ``method``, ``url`` and the
account id of the header endpoints) refuses CR, LF, NUL, other control characters, spaces and
non-ASCII with a 422 that names the field, stores nothing and echoes no secret; that headers
actually issued are printable ASCII; and that ``X-Request-ID`` is echoed only when it is a
safe token, so CR/LF sent in it never comes back.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.factories import oauth_body, signature_body
from tests.security.world import World, assert_refused

BAD = [
    "\r",
    "\n",
    "\r\nX-Injected: 1",
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\t",
    " ",
    "\x85",
    "\xa0",
    "\u00e9",
    "\u2028",
    "\ufeff",
    "\U0001f600",
]
PRINTABLE = re.compile(r"[ -~]*")
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def injection_targets(world: World) -> list[tuple[str, str, dict[str, Any], tuple[str, ...]]]:
    """(method, path, valid body, where the hostile value goes) for each header-bound field."""
    sig, oauth = signature_body(account_id="inject-acct"), oauth_body(account_id="inject-acct")
    rotate_sig = {"auth": world.signature_auth, "test": False}
    rotate_oauth = {"auth": oauth["auth"] | {"channel_type": "c"}, "test": False}
    cred = f"/v1/credentials/{world.signature_id}"
    headers = {"method": "GET", "url": world.feeds_url()}
    account = headers | {"market": "CA", "environment": "production"}
    account_path = f"/v1/accounts/{world.account_id}/headers"
    return [
        ("POST", "/v1/credentials", sig, ("auth", "consumer_id")),
        ("POST", "/v1/credentials", sig, ("auth", "channel_type")),
        ("POST", "/v1/credentials", oauth, ("auth", "client_id")),
        (
            "POST",
            "/v1/credentials",
            oauth | {"auth": oauth["auth"] | {"channel_type": "c"}},
            ("auth", "channel_type"),
        ),
        ("PATCH", cred, {"channel_type": "c"}, ("channel_type",)),
        ("POST", f"{cred}/rotate", rotate_sig, ("auth", "consumer_id")),
        ("POST", f"{cred}/rotate", rotate_sig, ("auth", "channel_type")),
        ("POST", f"{cred}/rotate", rotate_oauth, ("auth", "client_id")),
        ("POST", f"{cred}/rotate", rotate_oauth, ("auth", "channel_type")),
        ("POST", f"{cred}/headers", headers, ("method",)),
        ("POST", f"{cred}/headers", headers, ("url",)),
        ("POST", account_path, account, ("method",)),
        ("POST", account_path, account, ("url",)),
    ]


def hostile(body: dict[str, Any], where: tuple[str, ...], bad: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(body))
    node = copy
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = f"{node[where[-1]]}{bad}tail"
    return copy


async def test_header_injection_is_refused_on_every_field_that_reaches_walmart(
    http: httpx.AsyncClient, world: World, security_counts: Counter[str]
) -> None:
    for method, path, body, where in injection_targets(world):
        auth = body.get("auth", {})
        secrets = tuple(auth[k] for k in ("private_key", "client_secret") if k in auth)
        for bad in BAD:
            response = await http.request(method, path, json=hostile(body, where, bad))
            error = assert_refused(
                response, 422, "validation_error", secrets=secrets, counts=security_counts
            )
            fields = [e["field"] for e in error["details"]["errors"]]
            assert any(f.endswith(where[-1]) for f in fields), (path, where, bad, fields)
    for bad in BAD:
        path = f"/v1/accounts/{quote(world.account_id + bad, safe='')}/headers"
        response = await http.post(path, json=injection_targets(world)[-1][2])
        assert_refused(response, 422, "validation_error", counts=security_counts)
    assert (await http.get("/v1/credentials", params={"account_id": "inject-acct"})).json()[
        "items"
    ] == []
    versions = (await http.get(f"/v1/credentials/{world.signature_id}/versions")).json()
    assert [v["version"] for v in versions["items"]] == [1]
    credential = (await http.get(f"/v1/credentials/{world.signature_id}")).json()
    assert credential["channel_type"] == world.signature_auth["channel_type"]


async def test_issued_headers_are_printable_ascii(http: httpx.AsyncClient, world: World) -> None:
    for credential_id, url in (
        (world.signature_id, world.feeds_url()),
        (world.oauth_id, f"{world.walmart_url}/v3/orders?limit=1"),
    ):
        response = await http.post(
            f"/v1/credentials/{credential_id}/headers", json={"method": "get", "url": url}
        )
        assert response.status_code == 200, response.text
        for name, value in response.json()["headers"].items():
            assert TOKEN.fullmatch(name), name
            assert PRINTABLE.fullmatch(value), (name, value)


@pytest.mark.parametrize(
    "sent",
    [
        b"abc\r\nSet-Cookie: a=1",
        b"abc\nX-Evil: 1",
        b"abc\x00",
        b"\xe9t\xe9",
        b"a" * 65,
        b"",
        b"a b",
        b"../etc/passwd",
        b"abc\r",
    ],
)
async def test_request_id_is_echoed_only_when_it_is_a_safe_token(
    http: httpx.AsyncClient, sent: bytes, security_counts: Counter[str]
) -> None:
    # A probe, a 404, a 422, and (while the zoneless-``since`` bug lasts) a 500.
    for path in ("/healthz", "/v1/nowhere", "/v1/credentials/x", "/v1/audit?since=2020-01-01"):
        response = await http.get(path, headers={b"X-Request-ID": sent})
        echoed = response.headers.get_list("x-request-id")
        assert len(echoed) == 1
        assert re.fullmatch(r"[0-9a-f]{32}", echoed[0]), echoed
        assert not any(b"\r" in v or b"\n" in v for _, v in response.headers.raw)
        assert sent in [v for k, v in response.request.headers.raw if k.lower() == b"x-request-id"]
        security_counts["hostile cases"] += 1
    safe = "caller-req.42_x" + "y" * 49
    assert (await http.get("/healthz", headers={"X-Request-ID": safe})).headers[
        "x-request-id"
    ] == safe
