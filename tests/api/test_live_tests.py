"""Live tests against Walmart (the simulator): every outcome of the contract, within the budget."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pydantic import AnyHttpUrl

from app.config import Settings
from app.main import create_app
from tests.api.helpers import assert_error
from tests.api.walmart_setup import oauth_credential, signature_credential
from tests.conftest import BOOTSTRAP_TOKEN
from tests.factories import oauth_body, signature_body
from tests.walmart_sim import SimulatorControl, SimulatorServer

RESULT_KEYS = {
    "ok",
    "outcome",
    "checked_at",
    "latency_ms",
    "walmart_status",
    "walmart_error_code",
    "message",
    "correlation_id",
    "details",
}


async def run_test(client: httpx.AsyncClient, credential_id: str) -> dict[str, Any]:
    response = await client.post(f"/v1/credentials/{credential_id}/test")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert set(result) == RESULT_KEYS
    return result


async def test_oauth_test_passes_and_marks_valid(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    result = await run_test(client, credential["id"])
    assert result["ok"] is True
    assert result["outcome"] == "valid"
    assert result["walmart_status"] == 200
    assert result["details"]["is_valid"] is True
    assert result["details"]["is_channel_match"] is True
    assert result["correlation_id"]
    stored = (await client.get(f"/v1/credentials/{credential['id']}")).json()
    assert stored["status"] == "valid"
    assert stored["last_test"]["outcome"] == "valid"
    versions = (await client.get(f"/v1/credentials/{credential['id']}/versions")).json()
    assert versions["items"][0]["test"]["outcome"] == "valid"
    # The test's token is kept: the next headers call makes no second token call.
    issued = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": walmart.base_url + "/v3/orders"},
    )
    assert issued.status_code == 200
    assert walmart_control.stats()["token_calls"] == {credential["client_id"]: 1}


async def test_signature_test_passes(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    result = await run_test(client, credential["id"])
    assert (result["ok"], result["outcome"], result["walmart_status"]) == (True, "valid", 200)
    requests = walmart_control.stats()["requests"]
    assert requests[-1]["path"] == "/v3/ca/feeds"


async def test_revoked_key_is_invalid_but_still_gets_headers(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await signature_credential(client, walmart_control)
    walmart_control.remove_consumer(credential["consumer_id"])  # "Regenerate Key" in Seller Center
    result = await run_test(client, credential["id"])
    assert (result["ok"], result["outcome"], result["walmart_status"]) == (
        False,
        "invalid_credentials",
        401,
    )
    assert result["walmart_error_code"] == "UNAUTHORIZED.GMP_GATEWAY_API"
    stored = (await client.get(f"/v1/credentials/{credential['id']}")).json()
    assert stored["status"] == "invalid"
    listed = (await client.get("/v1/credentials", params={"status": "invalid"})).json()["items"]
    assert [c["id"] for c in listed] == [credential["id"]]
    issued = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": walmart.base_url + "/v3/ca/feeds"},
    )
    assert issued.status_code == 200


async def test_wrong_oauth_secret_is_invalid(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    body = oauth_body()
    walmart_control.add_oauth_client(body["auth"]["client_id"], "the-real-secret")
    credential = (await client.post("/v1/credentials", json=body)).json()
    result = await run_test(client, credential["id"])
    assert result["outcome"] == "invalid_credentials"
    assert result["walmart_status"] == 401


@pytest.mark.parametrize(
    ("fault", "outcome", "status"),
    [
        ({"mode": "status", "status": 403}, "forbidden", 403),
        ({"mode": "status", "status": 429, "retry_after": 7}, "rate_limited", 429),
        ({"mode": "status", "status": 500}, "walmart_unavailable", 500),
        ({"mode": "status", "status": 418}, "walmart_unavailable", 418),
        ({"mode": "garbage"}, "walmart_unavailable", 200),
        ({"mode": "reset"}, "network_error", None),
    ],
)
async def test_walmart_faults_are_classified(
    client: httpx.AsyncClient,
    walmart_control: SimulatorControl,
    fault: dict[str, Any],
    outcome: str,
    status: int | None,
) -> None:
    credential = await oauth_credential(client, walmart_control)
    walmart_control.add_fault(path_prefix="/v3/token", **fault)
    result = await run_test(client, credential["id"])
    assert (result["ok"], result["outcome"], result["walmart_status"]) == (False, outcome, status)
    if outcome == "rate_limited":
        assert result["details"]["retry_after"] == 7
    stored = (await client.get(f"/v1/credentials/{credential['id']}")).json()
    assert stored["status"] == "untested"  # none of these says the keys are bad


async def test_token_detail_failure_fails_the_test(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    walmart_control.add_fault(path_prefix="/v3/token/detail", mode="status", status=503)
    result = await run_test(client, credential["id"])
    assert (result["outcome"], result["walmart_status"]) == ("walmart_unavailable", 503)


async def test_slow_walmart_times_out_within_the_budget(
    client: httpx.AsyncClient, settings: Settings, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    # Each call alone fits in the budget; both together do not.
    walmart_control.add_fault(path_prefix="/v3/token", mode="slow", delay_seconds=2.0)
    started = time.perf_counter()
    result = await run_test(client, credential["id"])
    elapsed = time.perf_counter() - started
    assert result["outcome"] == "timeout"
    assert elapsed < settings.walmart_timeout_seconds + 1.5  # slack for a loaded machine
    assert elapsed >= settings.walmart_timeout_seconds - 0.1


async def test_unreachable_walmart_is_a_network_error(settings: Settings) -> None:
    closed = settings.model_copy(
        update={"walmart_production_url": AnyHttpUrl("http://127.0.0.1:9")}
    )
    app = create_app(closed)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://vault.test",
            headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
        ) as http:
            created = await http.post("/v1/credentials", json=signature_body())
            result = await run_test(http, created.json()["id"])
    assert (result["ok"], result["outcome"], result["walmart_status"]) == (
        False,
        "network_error",
        None,
    )


async def test_create_with_test_stores_nothing_when_refused(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    refused = await client.post("/v1/credentials?test=true", json=signature_body())
    error = assert_error(refused, 422, "credential_test_failed")
    assert error["details"]["outcome"] == "invalid_credentials"
    assert set(error["details"]) == RESULT_KEYS
    assert (await client.get("/v1/credentials")).json()["items"] == []

    created = await signature_credential(client, walmart_control, account_id="acme-ok")
    assert created["status"] == "untested"
    body = oauth_body()
    walmart_control.add_oauth_client(body["auth"]["client_id"], body["auth"]["client_secret"])
    tested = await client.post("/v1/credentials", params={"test": "true"}, json=body)
    assert tested.status_code == 201, tested.text
    assert tested.json()["status"] == "valid"
    assert tested.json()["last_test"]["outcome"] == "valid"


async def test_test_needs_its_scope(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    from tests.api.helpers import bearer, new_client_token

    credential = await signature_credential(client, walmart_control)
    reader = await new_client_token(client, "credentials:read", "credentials:write")
    response = await client.post(f"/v1/credentials/{credential['id']}/test", headers=bearer(reader))
    assert_error(response, 403, "forbidden")
    tester = await new_client_token(client, "credentials:test")
    response = await client.post(f"/v1/credentials/{credential['id']}/test", headers=bearer(tester))
    assert response.status_code == 200
