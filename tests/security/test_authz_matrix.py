"""Authorization matrix: every route of the app times every kind of caller.

Proves that each `/v1` route refuses exactly what it should and nothing more: no token, an
unknown token, a revoked one or a non-Bearer scheme get 401; a token without the route's scope
(see CONTRACT.md; ``admin`` implies all) or restricted to another account gets 403, as does any
account-restricted token on the routes that act for every account (clients, Walmart apps,
webhooks); a token with the scope and the account is never refused (and never gets a 5xx). The
probes, the docs and the App Store callback (a seller's browser) answer everyone. The routes
come from ``vault_app.routes``, so a route added without an entry in ``ROUTES`` fails this test,
as does an entry for a route that no longer exists.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from app.auth import ALL_SCOPES
from tests.api.helpers import bearer, new_client_token
from tests.conftest import BOOTSTRAP_TOKEN
from tests.factories import oauth_body
from tests.security.world import (
    NEW_APP,
    NEW_WEBHOOK,
    Newer,
    World,
)


@dataclass(frozen=True, slots=True)
class Req:
    path: str
    params: dict[str, str] | None = None
    json: Any = None


@dataclass
class Ctx:
    admin: httpx.AsyncClient
    world: World
    newer: Newer
    spare: dict[str, str] = field(default_factory=dict)  # targets that refused cells share


Build = Callable[[Ctx, bool], Awaitable[Req]]


def fill(template: Any, ctx: Ctx) -> Any:
    """``template`` with ``{sig}``, ``{oauth}``, ``{acct}``, ``{url}``, ``{auth}`` and the ids
    of ``ctx.newer`` (``{app}``, ``{conn}``, ``{hook}``, ``{delivery}``) filled in."""
    world, newer = ctx.world, ctx.newer
    if isinstance(template, dict):
        return {k: fill(v, ctx) for k, v in template.items()}
    if template == "{auth}":
        return world.signature_auth
    if isinstance(template, str) and "{" in template:
        ids = {"sig": world.signature_id, "oauth": world.oauth_id, "acct": world.account_id}
        ids |= {"app": newer.app_id, "conn": newer.connection_id, "hook": newer.webhook_id}
        return template.format(**ids, delivery=newer.delivery_id, url=world.feeds_url())
    return template


def fixed(path: str, params: dict[str, str] | None = None, json: Any = None) -> Build:
    async def build(ctx: Ctx, allowed: bool) -> Req:
        return Req(fill(path, ctx), fill(params, ctx), fill(json, ctx))

    return build


def unique_app() -> dict[str, str]:
    return NEW_APP | {"client_id": f"app-{uuid.uuid4().hex[:12]}"}


async def new_app(ctx: Ctx, allowed: bool) -> Req:
    return Req("/v1/walmart-apps", json=unique_app())  # a new Client ID: 201, not 409


def fresh(kind: str) -> Build:
    """For DELETE: each allowed cell destroys a new target; the refused cells share one."""

    async def build(ctx: Ctx, allowed: bool) -> Req:
        if allowed or kind not in ctx.spare:
            if kind == "credential":
                market = "MX" if allowed else "CL"  # two free slots of the account
                path, body = (
                    "/v1/credentials",
                    oauth_body(account_id=ctx.world.account_id, market=market),
                )
            elif kind == "intake_link":
                path, body = "/v1/intake-links", fill(NEW_LINK, ctx)
            elif kind == "walmart_app":
                path, body = "/v1/walmart-apps", unique_app()
            elif kind == "webhook":
                path, body = "/v1/webhooks", NEW_WEBHOOK
            else:
                path, body = "/v1/clients", {"name": "victim", "scopes": ["admin"]}
            response = await ctx.admin.post(path, json=body)
            assert response.status_code == 201, response.text
            if allowed:
                return Req(f"{path}/{response.json()['id']}")
            ctx.spare[kind] = f"{path}/{response.json()['id']}"
        return Req(ctx.spare[kind])

    return build


@dataclass(frozen=True, slots=True)
class Entry:
    scope: str | None  # None: no authentication at all
    build: Build
    account_bound: bool = False  # the request targets ``world.account_id``
    all_accounts: bool = False  # refused to any account-restricted token, even an admin's


def every_account(path: str, json: Any = None) -> Entry:
    """An admin route acting for all accounts, with a fixed request."""
    return Entry("admin", fixed(path, json=json), all_accounts=True)


def bound(scope: str, path: str, params: dict[str, str] | None = None, json: Any = None) -> Entry:
    """A route acting on ``world.account_id``'s data, with a fixed request."""
    return Entry(scope, fixed(path, params, json), account_bound=True)


ACCOUNT = {"account_id": "{acct}"}
NEW_CREDENTIAL = oauth_body(account_id="{acct}", environment="sandbox")
HEADERS = {"method": "GET", "url": "{url}"}
NEW_LINK = {
    "account_id": "{acct}",
    "market": "US",
    "environment": "sandbox",
    "kind": "oauth",
    "label": "Hand-over",
}
NEW_CONNECTION = {"account_id": "{acct}", "market": "US", "environment": "production"} | {
    "label": "App Store",
    "app_id": "{app}",  # more apps appear as the matrix runs: name the one to use
}
CRED = "/v1/credentials/{credential_id}"
APP = "/v1/walmart-apps/{app_id}"
HOOK = "/v1/webhooks/{webhook_id}"
ROUTES: dict[tuple[str, str], Entry] = {
    **{(m, "/openapi.json"): Entry(None, fixed("/openapi.json")) for m in ("GET", "HEAD")},
    **{
        ("GET", p): Entry(None, fixed(p))
        for p in ("/docs", "/metrics", "/healthz", "/readyz", "/connect/walmart/callback")
    },
    # The seller's hand-over pages take no token at all (an unknown link: a 404 page).
    **{
        (m, "/intake/{token}"): Entry(None, fixed("/intake/mpvl_" + "A" * 43))
        for m in ("GET", "POST")
    },
    ("POST", "/v1/clients"): every_account("/v1/clients", {"name": "m", "scopes": ["audit:read"]}),
    ("GET", "/v1/clients"): every_account("/v1/clients"),
    ("DELETE", "/v1/clients/{client_id}"): Entry("admin", fresh("client"), all_accounts=True),
    ("POST", "/v1/credentials"): bound("credentials:write", "/v1/credentials", json=NEW_CREDENTIAL),
    ("GET", "/v1/credentials"): bound("credentials:read", "/v1/credentials", ACCOUNT),
    ("GET", CRED): bound("credentials:read", "/v1/credentials/{sig}"),
    ("PATCH", CRED): bound("credentials:write", "/v1/credentials/{sig}", json={"label": "p"}),
    ("DELETE", CRED): Entry("credentials:write", fresh("credential"), account_bound=True),
    ("GET", f"{CRED}/versions"): bound("credentials:read", "/v1/credentials/{sig}/versions"),
    ("POST", f"{CRED}/test"): bound("credentials:test", "/v1/credentials/{sig}/test"),
    ("POST", f"{CRED}/rotate"): bound(
        "credentials:write", "/v1/credentials/{sig}/rotate", json={"auth": "{auth}", "test": False}
    ),
    ("POST", f"{CRED}/headers"): bound(
        "headers:issue", "/v1/credentials/{sig}/headers", json=HEADERS
    ),
    ("POST", "/v1/accounts/{account_id}/headers"): bound(
        "headers:issue",
        "/v1/accounts/{acct}/headers",
        json=HEADERS | {"market": "CA", "environment": "production"},
    ),
    ("POST", f"{CRED}/token/invalidate"): bound(
        "headers:issue", "/v1/credentials/{oauth}/token/invalidate"
    ),
    ("GET", "/v1/audit"): bound("audit:read", "/v1/audit", ACCOUNT),
    **{
        (method, "/v1/proxy/{account_id}/{market}/{environment}/{path:path}"): bound(
            "walmart:call", "/v1/proxy/{acct}/CA/production/v3/ca/feeds", {"limit": "1"}
        )
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
    ("POST", "/v1/intake-links"): bound("credentials:write", "/v1/intake-links", json=NEW_LINK),
    ("GET", "/v1/intake-links"): bound("credentials:read", "/v1/intake-links", ACCOUNT),
    ("DELETE", "/v1/intake-links/{link_id}"): Entry(
        "credentials:write", fresh("intake_link"), account_bound=True
    ),
    ("POST", "/v1/walmart-apps"): Entry("admin", new_app, all_accounts=True),
    ("GET", "/v1/walmart-apps"): every_account("/v1/walmart-apps"),
    ("POST", f"{APP}/rotate"): every_account(
        "/v1/walmart-apps/{app}/rotate", {"client_secret": "app-secret-after-regenerate"}
    ),
    ("DELETE", APP): Entry("admin", fresh("walmart_app"), all_accounts=True),
    ("POST", "/v1/connections"): bound("credentials:write", "/v1/connections", json=NEW_CONNECTION),
    ("GET", "/v1/connections"): bound("credentials:read", "/v1/connections", ACCOUNT),
    ("GET", "/v1/connections/{connection_id}"): bound("credentials:read", "/v1/connections/{conn}"),
    ("POST", "/v1/webhooks"): every_account("/v1/webhooks", NEW_WEBHOOK),
    ("GET", "/v1/webhooks"): every_account("/v1/webhooks"),
    ("PATCH", HOOK): every_account("/v1/webhooks/{hook}", {"description": "patched"}),
    ("DELETE", HOOK): Entry("admin", fresh("webhook"), all_accounts=True),
    ("POST", f"{HOOK}/rotate-secret"): every_account(
        "/v1/webhooks/{hook}/rotate-secret", {"grace_seconds": 0}
    ),
    ("POST", f"{HOOK}/test"): every_account("/v1/webhooks/{hook}/test"),
    ("GET", f"{HOOK}/deliveries"): every_account("/v1/webhooks/{hook}/deliveries"),
    ("POST", f"{HOOK}/deliveries/{{delivery_id}}/retry"): every_account(
        "/v1/webhooks/{hook}/deliveries/{delivery}/retry"
    ),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    routes = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.route, Mount) and isinstance(route.route.app, StaticFiles):
            continue  # stylesheets and scripts of the pages, the same for everyone
        assert route.path is not None, f"unexpected route {route!r}"
        assert route.methods, f"unexpected route {route!r}"
        routes |= {(method, route.path) for method in route.methods}
    return routes


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    headers: dict[str, str]
    expect: Callable[[Entry], int]  # 401/403, 0 for "allowed"


def unauthenticated(name: str, headers: dict[str, str]) -> Caller:
    return Caller(name, headers, lambda entry: 0 if entry.scope is None else 401)


def scoped(scope: str, token: str) -> Caller:
    def expect(entry: Entry) -> int:
        return 0 if entry.scope is None or scope in ("admin", entry.scope) else 403

    return Caller(f"scope {scope}", bearer(token), expect)


def restricted(scope: str, token: str, *, right_account: bool) -> Caller:
    """Holds ``scope`` but only for the target account, or only for another one."""

    def expect(entry: Entry) -> int:
        if entry.scope is None:
            return 0
        if scope != "admin" and scope != entry.scope:
            return 403
        if entry.all_accounts:
            return 403  # whichever accounts it is limited to (escalation: see test_privilege)
        assert entry.account_bound, "a route with a scope acts on one account or on all"
        return 0 if right_account else 403

    where = "its account" if right_account else "another account"
    return Caller(f"{scope} restricted to {where}", bearer(token), expect)


async def callers(admin: httpx.AsyncClient, world: World) -> list[Caller]:
    revoked = await admin.post("/v1/clients", json={"name": "gone", "scopes": ["admin"]})
    assert (await admin.delete(f"/v1/clients/{revoked.json()['id']}")).status_code == 204
    result = [
        unauthenticated("no token", {}),
        unauthenticated("unknown token", bearer(f"mpv_{uuid.uuid4().hex}")),
        unauthenticated("revoked admin token", bearer(revoked.json()["token"])),
        unauthenticated("admin token, Basic scheme", {"Authorization": f"Basic {BOOTSTRAP_TOKEN}"}),
        unauthenticated("empty bearer", {"Authorization": "Bearer "}),
    ]
    for scope in ALL_SCOPES:
        result.append(scoped(scope, await new_client_token(admin, scope)))
        for right, account in ((True, world.account_id), (False, world.other_account_id)):
            token = await new_client_token(admin, scope, account_ids=[account])
            result.append(restricted(scope, token, right_account=right))
    return result


async def check_cell(
    http: httpx.AsyncClient, ctx: Ctx, key: tuple[str, str], caller: Caller, expected: int
) -> str | None:
    """Run one cell; describe the mismatch, if any."""
    entry = ROUTES[key]
    req = await entry.build(ctx, expected == 0)
    response = await http.request(
        key[0], req.path, params=req.params, json=req.json, headers=caller.headers
    )
    status = response.status_code
    where = f"{key[0]} {key[1]} as {caller.name}: got {status}"
    if expected == 0:
        refused = status in (401, 403) or status >= 500
        return f"{where}, expected neither 401/403 nor 5xx" if refused else None
    code = {401: "unauthenticated", 403: "forbidden"}[expected]
    if status != expected or response.json().get("error", {}).get("code") != code:
        return f"{where} {response.text[:200]}, expected {expected} {code}"
    return None


async def test_every_route_refuses_exactly_the_callers_it_should(
    vault_app: FastAPI,
    http: httpx.AsyncClient,
    world: World,
    newer: Newer,
    security_counts: Counter[str],
) -> None:
    routes = app_routes(vault_app)
    assert routes - ROUTES.keys() == set(), "routes without an authorization-matrix entry"
    assert ROUTES.keys() - routes == set(), "matrix entries for routes that no longer exist"
    ctx = Ctx(http, world, newer)
    everyone = await callers(http, world)
    transport = httpx.ASGITransport(app=vault_app, raise_app_exceptions=False)
    mismatches, cells = [], 0
    async with httpx.AsyncClient(transport=transport, base_url="http://vault.test") as bare:
        for key in sorted(ROUTES):
            for caller in everyone:
                expected = caller.expect(ROUTES[key])
                cells += 1
                if (problem := await check_cell(bare, ctx, key, caller, expected)) is not None:
                    mismatches.append(problem)
    security_counts["authorization matrix cells checked"] += cells
    assert not mismatches, "\n".join(mismatches)
    assert cells > len(ROUTES) * 10
