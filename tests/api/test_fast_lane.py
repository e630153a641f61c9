"""The headers fast lane answers exactly as the FastAPI routes would, and only when it should.

Every request below goes to the real app and then to the same app with the fast lane taken
out; both answers must agree (status, error body, header names). A recorder placed behind the
lane shows which requests it passed on to FastAPI.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.headers.fast_lane import HeadersFastLane
from app.main import create_app
from tests.api.helpers import bearer, new_client_token
from tests.api.walmart_setup import oauth_credential, signature_credential
from tests.walmart_sim import SimulatorControl, SimulatorServer

# Fields that differ between any two issuances (signature time, correlation id, expiry).
VOLATILE = {"expires_at"}


class Recorder:
    """Notes the path of every request that reaches FastAPI's own routing."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
async def lanes(
    vault_app: FastAPI, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, list[str]]]:
    """(client of the app with the lane, client of the app without it, paths FastAPI saw)."""
    seen: list[str] = []
    vault_app.user_middleware.append(Middleware(Recorder, seen=seen))
    vault_app.middleware_stack = vault_app.build_middleware_stack()
    plain = create_app(settings)
    plain.user_middleware = [
        m for m in plain.user_middleware if cast(object, m.cls) is not HeadersFastLane
    ]
    async with plain.router.lifespan_context(plain):
        with_lane = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=vault_app), base_url="http://vault.test"
        )
        without = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=plain), base_url="http://vault.test"
        )
        async with with_lane, without:
            yield with_lane, without, seen


def _comparable(response: httpx.Response) -> tuple[int, Any]:
    if response.status_code != 200:
        return response.status_code, response.json()
    body = response.json()
    return 200, {
        **{k: v for k, v in body.items() if k not in VOLATILE | {"headers"}},
        "header_names": sorted(body["headers"]),
    }


async def test_both_lanes_answer_alike(
    lanes: tuple[httpx.AsyncClient, httpx.AsyncClient, list[str]],
    client: httpx.AsyncClient,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    with_lane, without, seen = lanes
    signature = await signature_credential(client, walmart_control)
    oauth = await oauth_credential(client, walmart_control)
    disabled = await signature_credential(client, walmart_control, account_id="acme-off")
    await client.patch(f"/v1/credentials/{disabled['id']}", json={"disabled": True})
    issuer = bearer(await new_client_token(client, "headers:issue"))
    reader = bearer(await new_client_token(client, "credentials:read"))
    limited = bearer(await new_client_token(client, "headers:issue", account_ids=["other"]))
    feeds = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds?limit=10"}
    orders = {"method": "get", "url": walmart.base_url + "/v3/orders"}
    by_account = {**orders, "market": "US", "environment": "production"}
    sig_path = f"/v1/credentials/{signature['id']}/headers"
    answered_by_lane: list[tuple[str, dict[str, str], Any]] = [
        (sig_path, issuer, feeds),
        (f"/v1/credentials/{signature['id'].upper()}/headers", issuer, feeds),
        (f"/v1/credentials/{oauth['id']}/headers", issuer, orders),
        ("/v1/accounts/acme-001/headers", issuer, by_account),
        ("/v1/accounts/nobody/headers", issuer, by_account),  # 404 from the issuer
        (f"/v1/credentials/{uuid.uuid4()}/headers", issuer, feeds),  # 404
        (f"/v1/credentials/{disabled['id']}/headers", issuer, feeds),  # 409
        (sig_path, issuer, {**feeds, "url": "https://elsewhere.example/v3/ca/feeds"}),  # 422
        (sig_path, limited, feeds),  # 403: account outside the client's limit
    ]
    passed_on: list[tuple[str, dict[str, str], Any]] = [
        (sig_path, {}, feeds),  # 401: no token
        (sig_path, bearer("mpv_unknown"), feeds),  # 401
        (sig_path, reader, feeds),  # 403: scope
        (sig_path, issuer, {"method": "GET"}),  # 422: url missing
        (sig_path, issuer, {**feeds, "extra": 1}),  # 422: unknown field
        (sig_path, issuer, {**feeds, "method": "TRACE"}),  # 422
        (sig_path, issuer, b"{not json"),  # 422
        ("/v1/credentials/not-a-uuid/headers", issuer, feeds),  # 422
        ("/v1/accounts/-bad-/headers", issuer, by_account),  # 422
        (sig_path, issuer, "text"),  # another content type
    ]
    seen.clear()  # the setup above went through FastAPI's routes
    for path, headers, body in answered_by_lane + passed_on:
        answers = []
        for http in (with_lane, without):
            if isinstance(body, bytes):
                kwargs: dict[str, Any] = {
                    "content": body,
                    "headers": {**headers, "content-type": "application/json"},
                }
            elif isinstance(body, str):
                kwargs = {"content": body, "headers": {**headers, "content-type": "text/plain"}}
            else:
                kwargs = {"json": body, "headers": headers}
            answers.append(_comparable(await http.post(path, **kwargs)))
        assert answers[0] == answers[1], (path, body)
    assert seen == [path for path, _, _ in passed_on]


async def test_lane_keeps_the_request_id_and_the_audit(
    lanes: tuple[httpx.AsyncClient, httpx.AsyncClient, list[str]],
    client: httpx.AsyncClient,
    vault_app: FastAPI,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    with_lane, _, seen = lanes
    signature = await signature_credential(client, walmart_control)
    body = {"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"}
    seen.clear()
    response = await with_lane.post(
        f"/v1/credentials/{signature['id']}/headers",
        json=body,
        headers={"X-Request-ID": "lane-req-1", "Authorization": client.headers["Authorization"]},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "lane-req-1"
    assert seen == []
    await vault_app.state.vault.audit.flush()
    events = (await client.get("/v1/audit", params={"action": "headers.issued"})).json()["items"]
    assert [e["request_id"] for e in events] == ["lane-req-1"]
