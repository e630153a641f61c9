"""Hostile query strings: page sizes, cursors and filters of every list endpoint.

Proves that every list endpoint (found in the OpenAPI document, so a new one is covered) takes
``limit`` from 1 to 200 only, refuses any cursor it did not issue (garbage, wrong shape, wrong
list's cursor, oversized) with a 422 in the one error shape, and that the audit filters refuse
what the database cannot compare (a time without a zone, out of range, a NUL) instead of
failing with a 500.
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import httpx
import pytest

from app.config import Settings
from tests.security.world import NEW_WEBHOOK, Newer, World, assert_refused

BAD_LIMITS = ["0", "201", "-1", "abc", "1.5", "", "1e2", "9" * 30, "0x10", "\u0665", "5 5"]
REFUSED_CURSOR = ("validation_error", "invalid_request")
DELIVERIES = "/v1/webhooks/{webhook_id}/deliveries"
LISTS = [
    "/v1/audit",
    "/v1/clients",
    "/v1/connections",
    "/v1/credentials",
    "/v1/intake-links",
    "/v1/webhooks",
    DELIVERIES,
]


def cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode(value: str) -> list[str]:
    decoded: list[str] = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    return decoded


GARBAGE_CURSORS = [
    "garbage!",
    "%%%",
    "AAAA",
    cursor({"a": 1}),
    cursor([1, 2]),
    cursor(["x", "y"]),
    cursor(["2020-01-01T00:00:00+00:00", "not-a-uuid"]),
    cursor(["99999-01-01T00:00:00+00:00", "00000000-0000-0000-0000-000000000000"]),
    cursor([]),
    cursor(["1", "2", "3"]),
    "x" * 513,
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
]


async def list_paths(http: httpx.AsyncClient, newer: Newer) -> list[str]:
    document = (await http.get("/openapi.json")).json()
    found = [
        path
        for path, item in document["paths"].items()
        if any(p["name"] == "limit" for p in item.get("get", {}).get("parameters", []))
    ]
    assert sorted(found) == LISTS
    return [path.format(webhook_id=newer.webhook_id) for path in found]


async def test_limit_outside_1_to_200_is_422_on_every_list(
    http: httpx.AsyncClient, newer: Newer, security_counts: Counter[str]
) -> None:
    for path in await list_paths(http, newer):
        for limit in BAD_LIMITS:
            response = await http.get(path, params={"limit": limit})
            assert_refused(response, 422, "validation_error", counts=security_counts)
        for limit in ("1", "200"):
            page = await http.get(path, params={"limit": limit})
            assert page.status_code == 200, page.text
            assert len(page.json()["items"]) <= int(limit)


async def test_cursor_the_service_did_not_issue_is_422_on_every_list(
    http: httpx.AsyncClient, world: World, newer: Newer, security_counts: Counter[str]
) -> None:
    paths = await list_paths(http, newer)
    await http.post("/v1/clients", json={"name": "second", "scopes": ["audit:read"]})
    for _ in range(2):
        link = {"account_id": "acme-sec", "market": "US", "environment": "sandbox"}
        link |= {"kind": "oauth", "label": "Hand-over"}
        assert (await http.post("/v1/intake-links", json=link)).status_code == 201
    # A second connection and webhook endpoint (``newer`` queued two deliveries already).
    connection = {"account_id": "acme-sec", "market": "CA", "environment": "production"}
    connection |= {"label": "Second", "app_id": newer.app_id}
    assert (await http.post("/v1/connections", json=connection)).status_code == 201
    assert (await http.post("/v1/webhooks", json=NEW_WEBHOOK)).status_code == 201
    issued = {}
    for path in paths:
        page = await http.get(path, params={"limit": 1})
        issued[path] = page.json()["next_cursor"]
        assert issued[path] is not None, path  # there is more than one of each
    for path in paths:
        # A cursor of another kind of list (audit's are ids, the others' time and id).
        foreign = [c for c in issued.values() if len(decode(c)) != len(decode(issued[path]))]
        assert foreign
        for bad in GARBAGE_CURSORS + foreign:
            response = await http.get(path, params={"cursor": bad})
            error = assert_refused(response, 422, counts=security_counts)
            assert error["code"] in REFUSED_CURSOR, error
        follow = await http.get(path, params={"cursor": issued[path], "limit": 1})
        assert follow.status_code == 200, follow.text


@pytest.mark.parametrize(
    "path",
    ["/v1/credentials", "/v1/clients", "/v1/intake-links", "/v1/connections", "/v1/webhooks"],
)
@pytest.mark.parametrize(
    "at", ["2020-01-01T00:00:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]
)
async def test_cursor_with_a_zoneless_or_overflowing_time_is_422(
    http: httpx.AsyncClient, path: str, at: str
) -> None:
    bad = cursor([at, "00000000-0000-0000-0000-000000000000"])
    assert_refused(await http.get(path, params={"cursor": bad}), 422, "invalid_request")


BAD_IDS = ["9223372036854775808", "9" * 40, "-1", " 5", "1_000", "\u0665", "+5"]


@pytest.mark.parametrize("last_id", BAD_IDS)
async def test_audit_cursor_outside_bigint_or_not_plain_digits_is_422(
    http: httpx.AsyncClient, last_id: str
) -> None:
    response = await http.get("/v1/audit", params={"cursor": cursor([last_id])})
    assert_refused(response, 422, "invalid_request")


async def test_delivery_cursor_outside_bigint_or_not_plain_digits_is_422(
    http: httpx.AsyncClient, newer: Newer
) -> None:
    path = DELIVERIES.format(webhook_id=newer.webhook_id)
    for last_id in BAD_IDS:
        response = await http.get(path, params={"cursor": cursor([last_id])})
        assert_refused(response, 422, "invalid_request")


@pytest.mark.parametrize(
    ("since", "code"),
    [
        ("2020-01-01T00:00:00", "validation_error"),  # no time zone
        ("2020-01-01", "validation_error"),
        ("9999-12-31T23:59:59-23:59", "invalid_request"),  # past year 9999 once in UTC
        ("0001-01-01T00:00:00+23:59", "invalid_request"),  # before year 1 once in UTC
    ],
)
async def test_audit_since_the_database_cannot_compare_is_422(
    http: httpx.AsyncClient, since: str, code: str
) -> None:
    response = await http.get("/v1/audit", params={"since": since})
    assert_refused(response, 422, code)


async def test_audit_since_with_a_zone_is_accepted(http: httpx.AsyncClient, world: World) -> None:
    for since in ("2020-01-01T00:00:00Z", "2020-01-01T00:00:00+05:30", "1700000000"):
        response = await http.get("/v1/audit", params={"since": since})
        assert response.status_code == 200, (since, response.text)


async def test_nul_or_control_characters_in_audit_action_are_not_a_500(
    http: httpx.AsyncClient,
    world: World,
    request: pytest.FixtureRequest,
    settings: Settings,
) -> None:
    for action in ("a\x00b", "\x00", "x\x01", "credential.created\r\n"):
        response = await http.get("/v1/audit", params={"action": action})
        assert response.status_code in (200, 422), (repr(action), response.text)
        if response.status_code == 200:
            assert response.json()["items"] == []
