"""A rejected token earns exactly one retry with fresh headers, and never a second.

OAuth: the SDK reports the rejection to the vault, which drops its cached token, so the
retry carries a new one (the simulator counts the token calls). Signature: no report (the
vault refuses to invalidate a signature credential, so a report would surface as
``VaultError``), just a fresh signature. ``MockTransport`` stands in for Walmart only where
the simulator cannot produce an error shape; the vault is always the real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sdk.conftest import MakeAuth, send, walmart_calls
from tests.walmart_sim import SimulatorControl, SimulatorServer

INVALID = {"code": "INVALID_TOKEN.GMP_GATEWAY_API", "description": "Invalid token"}


@pytest.mark.parametrize("expired_status", [401, 400])
def test_expired_token_sync(
    expired_status: int,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    walmart_control.settings(expired_token_status=expired_status)
    auth = make_auth(credential_id=oauth_credential["id"])
    with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
        assert client.get("/v3/orders").status_code == 200
        walmart_control.expire_tokens()
        response = client.get("/v3/orders")
    assert response.status_code == 200, response.text
    assert [r.status_code for r in response.history] == [expired_status]
    statuses = [r["status"] for r in walmart_calls(walmart_control, "/v3/orders")]
    assert statuses == [200, expired_status, 200]
    assert walmart_control.stats()["token_calls"] == {oauth_credential["client_id"]: 2}


@pytest.mark.parametrize("expired_status", [401, 400])
async def test_expired_token_async(
    expired_status: int,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    walmart_control.settings(expired_token_status=expired_status)
    auth = make_auth(credential_id=oauth_credential["id"])
    async with httpx.AsyncClient(base_url=walmart.base_url, auth=auth) as client:
        assert (await client.get("/v3/orders")).status_code == 200
        walmart_control.expire_tokens()
        response = await client.post("/v3/orders/acknowledge", json={"ids": [1, 2]})
    assert response.status_code == 200, response.text
    statuses = [r["status"] for r in walmart_calls(walmart_control, "/v3/orders/acknowledge")]
    assert statuses == [expired_status, 200]
    assert walmart_control.stats()["token_calls"] == {oauth_credential["client_id"]: 2}


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize(("status", "code"), [(401, None), (400, "INVALID_TOKEN")])
async def test_persistent_rejection_is_retried_once(
    status: int,
    code: str | None,
    flavor: str,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    walmart_control.add_fault(path_prefix="/v3/orders", mode="status", status=status, code=code)
    auth = make_auth(credential_id=oauth_credential["id"])
    response = await send(flavor, auth, walmart.base_url, "GET", "/v3/orders")
    assert response.status_code == status
    assert len(walmart_calls(walmart_control, "/v3/orders")) == 2
    assert walmart_control.stats()["token_calls"] == {oauth_credential["client_id"]: 2}


def test_other_400_is_not_retried(
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    walmart_control.add_fault(path_prefix="/v3/orders", mode="status", status=400)
    auth = make_auth(credential_id=oauth_credential["id"])
    with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
        response = client.get("/v3/orders")
    assert response.status_code == 400
    assert response.json()["error"][0]["code"] == "BAD_REQUEST.GMP_GATEWAY_API"
    assert len(walmart_calls(walmart_control, "/v3/orders")) == 1


def test_signature_rejected_once_gets_fresh_headers_and_replays_the_body(
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    signature_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    walmart_control.add_fault(path_prefix="/v3/ca/feeds", mode="status", status=401, times=1)
    auth = make_auth(credential_id=signature_credential["id"])
    chunks = [b'{"items": ', b'[{"sku": "A-1"}]}']  # a one-shot stream: read once, sent twice
    with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
        response = client.post("/v3/ca/feeds?feedType=item", content=iter(chunks))
    assert response.status_code == 200, response.text
    assert response.json()["body_bytes"] == len(b"".join(chunks))
    calls = walmart_calls(walmart_control, "/v3/ca/feeds")
    assert [c["status"] for c in calls] == [401, 200]
    assert calls[0]["correlation_id"] != calls[1]["correlation_id"]


def _walmart_answers(first: httpx.Response) -> Iterator[httpx.Response]:
    yield first
    while True:
        yield httpx.Response(200, json={"ok": True})


@pytest.mark.parametrize(
    ("body", "retried"),
    [
        ({"error": [INVALID]}, True),
        ({"errors": [INVALID]}, True),
        ({"errors": {"error": [INVALID]}}, True),
        ({"errors": [{"code": "INVALID_REQUEST.GMP_GATEWAY_API"}]}, False),
        ("<html>Bad Request</html>", False),
    ],
)
async def test_error_shapes_of_400(
    body: object,
    retried: bool,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    first = (
        httpx.Response(400, json=body)
        if isinstance(body, dict)
        else httpx.Response(400, text=str(body))
    )
    answers = _walmart_answers(first)
    transport = httpx.MockTransport(lambda request: next(answers))
    auth = make_auth(credential_id=oauth_credential["id"])
    async with httpx.AsyncClient(base_url=walmart.base_url, auth=auth, transport=transport) as c:
        response = await c.get("/v3/orders")
    assert response.status_code == (200 if retried else 400)
    token_calls = 2 if retried else 1
    assert walmart_control.stats()["token_calls"] == {oauth_credential["client_id"]: token_calls}
