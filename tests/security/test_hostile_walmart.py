"""Walmart's Retry-After is read strictly: a hostile or odd value never becomes a 500, an
infinite backoff or a non-JSON number, on the headers route or in a live test."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.walmart.outcomes import (
    DEFAULT_RETRY_AFTER_SECONDS,
    MAX_RETRY_AFTER_SECONDS,
    parse_retry_after,
)
from tests.api.helpers import assert_error
from tests.api.walmart_setup import oauth_credential
from tests.factories import oauth_body
from tests.walmart_sim import SimulatorControl, SimulatorServer

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7),
        (" 7 ", 7),
        ("0", 0),
        ("61", MAX_RETRY_AFTER_SECONDS),
        ("9" * 400, MAX_RETRY_AFTER_SECONDS),
        ("1e999", DEFAULT_RETRY_AFTER_SECONDS),
        ("inf", DEFAULT_RETRY_AFTER_SECONDS),
        ("nan", DEFAULT_RETRY_AFTER_SECONDS),
        ("-5", DEFAULT_RETRY_AFTER_SECONDS),
        ("1.5", DEFAULT_RETRY_AFTER_SECONDS),
        ("", DEFAULT_RETRY_AFTER_SECONDS),
        ("soon", DEFAULT_RETRY_AFTER_SECONDS),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0),
        ("Fri, 01 Jan 2100 00:00:00 GMT", MAX_RETRY_AFTER_SECONDS),
    ],
)
def test_retry_after_is_parsed_strictly_and_clamped(value: str, seconds: int) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


async def test_infinite_retry_after_on_the_headers_route_is_a_bounded_503(
    client: httpx.AsyncClient, walmart: SimulatorServer, walmart_control: SimulatorControl
) -> None:
    credential = await oauth_credential(client, walmart_control)
    walmart_control.add_fault(path_prefix="/v3/token", status=429, retry_after="1e999")
    body = {"method": "GET", "url": walmart.base_url + "/v3/orders"}
    # The second call meets the failure the broker keeps for its backoff.
    for _ in range(2):
        response = await client.post(f"/v1/credentials/{credential['id']}/headers", json=body)
        error = assert_error(response, 503, "walmart_rate_limited")
        assert response.headers["retry-after"] == str(DEFAULT_RETRY_AFTER_SECONDS)
        assert error["details"]["retry_after"] == DEFAULT_RETRY_AFTER_SECONDS


async def test_infinite_retry_after_in_a_registration_test_is_a_clear_422(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    body = oauth_body()
    walmart_control.add_oauth_client(body["auth"]["client_id"], body["auth"]["client_secret"])
    walmart_control.add_fault(path_prefix="/v3/token", status=429, retry_after="1e999")
    response = await client.post("/v1/credentials?test=true", json=body)
    error = assert_error(response, 422, "credential_test_failed")
    assert error["details"]["outcome"] == "rate_limited"
    assert error["details"]["details"]["retry_after"] == DEFAULT_RETRY_AFTER_SECONDS
