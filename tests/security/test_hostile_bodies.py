"""Hostile request bodies: too large, with unknown fields, too deep, or unreadable.

Proves that on every operation that takes a body: more than 64 KB is 413 whether the size is
declared, absent (chunked) or understated; an unknown field anywhere in any body schema is 422
and changes nothing; and bodies built to hurt a parser (10,000 nested arrays or objects,
60 KB strings, thousands of keys, a 5,000-digit number) are refused in the one error shape at
once (within ``FAST``: a parser that chokes takes far longer), leaving the service answering the
next caller.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.factories import oauth_body, signature_body
from tests.security.world import NEW_APP, NEW_WEBHOOK, Newer, World, assert_refused

JSON = {"Content-Type": "application/json"}
LIMIT = 64 * 1024
# Seconds. Each of these answers in a few milliseconds on a laptop; speed is measured by
# `make bench`, so this bound only has to catch a parser that chokes (seconds to minutes per
# bomb), with room for a loaded CI machine (up to 2.5 s seen on 2 shared cores).
FAST = 10.0


def body_operations(
    world: World, newer: Newer
) -> dict[tuple[str, str], tuple[str, list[dict[str, Any]]]]:
    """Each operation with a body: its path for ``world`` and valid bodies (one per schema)."""
    sig, hook = world.signature_id, f"/v1/webhooks/{newer.webhook_id}"
    link = {"account_id": world.account_id, "market": "US", "environment": "production"}
    oauth_auth = oauth_body()["auth"] | {"channel_type": "abc"}
    headers = {"method": "GET", "url": world.feeds_url()}
    return {
        ("POST", "/v1/clients"): ("/v1/clients", [{"name": "n", "scopes": ["audit:read"]}]),
        ("POST", "/v1/credentials"): (
            "/v1/credentials",
            [signature_body(account_id="fresh-acct"), oauth_body(account_id="fresh-acct")],
        ),
        ("PATCH", "/v1/credentials/{credential_id}"): (
            f"/v1/credentials/{sig}",
            [{"label": "patched", "channel_type": "abc", "disabled": False}],
        ),
        ("POST", "/v1/credentials/{credential_id}/rotate"): (
            f"/v1/credentials/{sig}/rotate",
            [{"auth": world.signature_auth, "test": False}, {"auth": oauth_auth, "test": False}],
        ),
        ("POST", "/v1/credentials/{credential_id}/headers"): (
            f"/v1/credentials/{sig}/headers",
            [headers],
        ),
        ("POST", "/v1/accounts/{account_id}/headers"): (
            f"/v1/accounts/{world.account_id}/headers",
            [headers | {"market": "CA", "environment": "production"}],
        ),
        ("POST", "/v1/intake-links"): (
            "/v1/intake-links",
            [
                {
                    "account_id": world.account_id,
                    "market": "CA",
                    "environment": "production",
                    "kind": "signature",
                    "label": "Hand-over",
                    "credential_id": sig,
                }
            ],
        ),
        ("POST", "/v1/walmart-apps"): (
            "/v1/walmart-apps",
            [NEW_APP | {"client_id": "hostile-app"}],
        ),
        ("POST", "/v1/walmart-apps/{app_id}/rotate"): (
            f"/v1/walmart-apps/{newer.app_id}/rotate",
            [{"client_secret": "app-secret-after-regenerate"}],
        ),
        ("POST", "/v1/connections"): (
            "/v1/connections",
            [link | {"label": "Hostile", "app_id": newer.app_id}],
        ),
        ("POST", "/v1/webhooks"): ("/v1/webhooks", [NEW_WEBHOOK | {"description": "d"}]),
        ("PATCH", "/v1/webhooks/{webhook_id}"): (
            hook,
            [NEW_WEBHOOK | {"description": "patched", "enabled": False}],
        ),
        ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): (
            f"{hook}/rotate-secret",
            [{"grace_seconds": 60}],
        ),
    }


# The proxy's bodies are Walmart's, streamed through unread: no schema, no size limit.
PROXY = "/v1/proxy/"


async def documented_body_operations(http: httpx.AsyncClient) -> set[tuple[str, str]]:
    document = (await http.get("/openapi.json")).json()
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation and not path.startswith(PROXY)
    }


def objects_in(body: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every JSON object in ``body``, itself included."""
    found = [prefix]
    for key, value in body.items():
        if isinstance(value, dict):
            found += objects_in(value, (*prefix, key))
    return found


def with_extra(body: dict[str, Any], where: tuple[str, ...]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(body))
    node = copy
    for key in where:
        node = node[key]
    node["smuggled"] = "x"
    return copy


def secrets_of(body: dict[str, Any]) -> tuple[str, ...]:
    auth = body.get("auth") or {}
    found = tuple(auth[k] for k in ("private_key", "client_secret") if k in auth)
    return found + ((body["client_secret"],) if "client_secret" in body else ())


async def test_unknown_field_is_422_on_every_body_schema(
    http: httpx.AsyncClient, world: World, newer: Newer, security_counts: Counter[str]
) -> None:
    webhooks_before = (await http.get("/v1/webhooks")).json()
    operations = body_operations(world, newer)
    assert await documented_body_operations(http) == set(operations)
    for (method, _), (path, bodies) in operations.items():
        for body in bodies:
            for where in objects_in(body):
                response = await http.request(method, path, json=with_extra(body, where))
                error = assert_refused(
                    response,
                    422,
                    "validation_error",
                    secrets=secrets_of(body),
                    counts=security_counts,
                )
                fields = [e["field"] for e in error["details"]["errors"]]
                # Under auth a key is not named: a pasted secret could be the key.
                named = "<unknown field>" if "auth" in where else "smuggled"
                assert any(f.endswith(f".{named}") for f in fields), (path, where, fields)
    listed = await http.get("/v1/credentials", params={"account_id": "fresh-acct"})
    assert listed.json()["items"] == []
    credential = (await http.get(f"/v1/credentials/{world.signature_id}")).json()
    assert (credential["version"], credential["label"]) == (1, "Acme Canada")
    apps = (await http.get("/v1/walmart-apps")).json()["items"]
    assert [(a["id"], a["secret_version"]) for a in apps] == [(newer.app_id, 1)]
    connections = (await http.get("/v1/connections")).json()["items"]
    assert [c["id"] for c in connections] == [newer.connection_id]
    assert (await http.get("/v1/webhooks")).json() == webhooks_before


async def test_413_is_documented_on_every_body_operation(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    undocumented = {
        (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
        and "413" not in operation["responses"]
        and not path.startswith(PROXY)
    }
    assert undocumented == set()


async def chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * 4096
        sent += 4096


@pytest.mark.parametrize("framing", ["content-length", "chunked", "understated-length"])
async def test_body_over_64_kb_is_413_on_every_body_operation(
    http: httpx.AsyncClient,
    world: World,
    newer: Newer,
    framing: str,
    security_counts: Counter[str],
) -> None:
    big = json.dumps({"label": "x" * (LIMIT + 10)}).encode()
    for (method, _), (path, _bodies) in body_operations(world, newer).items():
        if framing == "chunked":
            response = await http.request(method, path, content=chunks(LIMIT + 1), headers=JSON)
            assert "content-length" not in response.request.headers
        else:
            declared = {"Content-Length": "100"} if framing == "understated-length" else {}
            response = await http.request(method, path, content=big, headers=JSON | declared)
            assert response.request.headers["content-length"] == declared.get(
                "Content-Length", str(len(big))
            )
        assert_refused(response, 413, "payload_too_large", counts=security_counts)
    assert (await http.get("/v1/credentials", params={"account_id": "fresh-acct"})).json() == {
        "items": [],
        "next_cursor": None,
    }


def parser_bombs() -> dict[str, bytes]:
    many_keys = "{" + ",".join(f'"k{i}":0' for i in range(6000)) + "}"
    credential = signature_body(account_id="bomb")
    return {
        "10,000 nested arrays": b"[" * 10_000 + b"]" * 10_000,
        "10,000 nested objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "60 KB label": json.dumps(credential | {"label": "x" * 60_000}).encode(),
        "60 KB consumer id": json.dumps(
            credential | {"auth": credential["auth"] | {"consumer_id": "c" * 58_000}}
        ).encode(),
        "6,000 unknown keys": many_keys.encode(),
        "5,000-digit number": b'{"label": ' + b"9" * 5_000 + b"}",
        "number overflowing a float": b'{"label": 1e999}',
        "6,000 scopes": json.dumps({"name": "n", "scopes": ["admin"] * 6000}).encode(),
    }


@pytest.mark.parametrize("path", ["/v1/credentials", "/v1/clients"])
async def test_parser_bombs_are_refused_fast_and_leave_the_service_fast(
    http: httpx.AsyncClient, path: str, security_counts: Counter[str]
) -> None:
    slowest = 0.0
    for name, payload in parser_bombs().items():
        assert len(payload) <= LIMIT, name
        started = time.perf_counter()
        response = await http.post(path, content=payload, headers=JSON)
        elapsed = time.perf_counter() - started
        slowest = max(slowest, elapsed)
        assert elapsed < FAST, (name, elapsed)
        # 422 is the answer; 400 is the parser-failure bug reported below, still in the shape.
        assert response.status_code in (400, 422), (name, response.status_code)
        assert_refused(response, response.status_code, counts=security_counts)
    key = "slowest parser-bomb answer (ms)"
    security_counts[key] = max(security_counts[key], round(slowest * 1000))
    started = time.perf_counter()
    assert (await http.get("/v1/credentials")).status_code == 200
    assert (await http.get("/healthz")).status_code == 200
    assert time.perf_counter() - started < FAST / 2
    assert (await http.get("/v1/credentials", params={"account_id": "bomb"})).json()["items"] == []


@pytest.mark.parametrize(
    "payload",
    [b'{"name": "caf\xc3', b"[" * 10_000 + b"]" * 10_000, b'{"name": ' + b"9" * 5_000 + b"}"],
    ids=["not-utf8", "nested", "huge-number"],
)
async def test_body_the_parser_cannot_read_is_a_documented_422(
    http: httpx.AsyncClient, payload: bytes
) -> None:
    response = await http.post("/v1/clients", content=payload, headers=JSON)
    assert_refused(response, 422, "validation_error")


async def test_a_refusal_is_not_larger_than_the_request(http: httpx.AsyncClient) -> None:
    payload = parser_bombs()["6,000 unknown keys"]
    response = await http.post("/v1/clients", content=payload, headers=JSON)
    assert_refused(response, 422, "validation_error")
    assert len(response.content) <= 16 * 1024, len(response.content)
