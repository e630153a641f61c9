"""The simulator's legacy signature side (``/v3/ca/...``) over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from tests.walmart_sim import SimulatorControl, SimulatorServer
from tests.walmart_sim.testkit import CONSUMER_ID, error_code, now_ms, sign, signed_headers

UNAUTHORIZED = "UNAUTHORIZED.GMP_GATEWAY_API"
ORDERS_QUERY = "/v3/ca/orders?createdStartDate=2015-01-03T05{colon}00{colon}00Z&limit=5"


def url(simulator: SimulatorServer, path: str) -> str:
    return simulator.base_url + path


async def test_correct_signature_is_accepted(
    client: httpx.AsyncClient,
    control: SimulatorControl,
    simulator: SimulatorServer,
    rsa_key: RSAPrivateKey,
    consumer: str,
) -> None:
    target = url(simulator, "/v3/ca/feeds?limit=1")
    response = await client.get(target, headers=signed_headers(rsa_key, target))
    assert response.status_code == 200, response.text
    assert response.json() == {"results": {"feed": []}, "totalResults": 0, "offset": 0, "limit": 1}
    record = control.stats()["requests"][-1]
    assert record["raw_url"] == target
    assert (record["auth"], record["auth_passed"], record["principal"]) == (
        "signature",
        True,
        CONSUMER_ID,
    )
    plain = url(simulator, "/v3/ca/feeds")
    response = await client.get(plain, headers=signed_headers(rsa_key, plain))
    assert response.json()["limit"] == 10


async def test_signed_post_and_other_get(
    client: httpx.AsyncClient, simulator: SimulatorServer, rsa_key: RSAPrivateKey, consumer: str
) -> None:
    target = url(simulator, "/v3/ca/feeds?feedType=item")
    headers = signed_headers(rsa_key, target, "POST")
    posted = await client.post(target, headers=headers, content=b"x")
    assert posted.status_code == 200
    assert posted.json()["body_bytes"] == 1
    items = url(simulator, "/v3/ca/items")
    assert (await client.get(items, headers=signed_headers(rsa_key, items))).json() == {"ok": True}


@pytest.mark.parametrize(("signed", "sent"), [("%3A", ":"), (":", "%3A")])
async def test_url_encoding_must_match_the_wire_bytes(
    client: httpx.AsyncClient,
    simulator: SimulatorServer,
    rsa_key: RSAPrivateKey,
    consumer: str,
    signed: str,
    sent: str,
) -> None:
    signed_url = url(simulator, ORDERS_QUERY.format(colon=signed))
    sent_url = url(simulator, ORDERS_QUERY.format(colon=sent))
    refused = await client.get(sent_url, headers=signed_headers(rsa_key, signed_url))
    assert refused.status_code == 401
    assert error_code(refused) == UNAUTHORIZED
    # Positive control: the same query is fine when what is signed is what is sent.
    accepted = await client.get(sent_url, headers=signed_headers(rsa_key, sent_url))
    assert accepted.status_code == 200


async def test_host_is_part_of_the_signed_url(
    client: httpx.AsyncClient, simulator: SimulatorServer, rsa_key: RSAPrivateKey, consumer: str
) -> None:
    target = url(simulator, "/v3/ca/feeds")
    elsewhere = target.replace("127.0.0.1", "localhost")
    assert (await client.get(target, headers=signed_headers(rsa_key, elsewhere))).status_code == 401


@pytest.mark.parametrize("skew_ms", [-301_000, 301_000])
async def test_timestamp_outside_window_is_refused(
    client: httpx.AsyncClient,
    control: SimulatorControl,
    simulator: SimulatorServer,
    rsa_key: RSAPrivateKey,
    consumer: str,
    skew_ms: int,
) -> None:
    target = url(simulator, "/v3/ca/feeds")
    headers = signed_headers(rsa_key, target, timestamp=now_ms() + skew_ms)
    assert (await client.get(target, headers=headers)).status_code == 401
    control.settings(timestamp_window_seconds=600)
    assert (await client.get(target, headers=headers)).status_code == 200


async def test_channel_type_must_match_and_is_required(
    client: httpx.AsyncClient, simulator: SimulatorServer, rsa_key: RSAPrivateKey, consumer: str
) -> None:
    target = url(simulator, "/v3/ca/feeds")
    wrong = signed_headers(rsa_key, target, channel_type="11111111-2222-3333-4444-555555555555")
    assert (await client.get(target, headers=wrong)).status_code == 401
    missing = signed_headers(rsa_key, target)
    del missing["WM_CONSUMER.CHANNEL.TYPE"]
    response = await client.get(target, headers=missing)
    assert response.status_code == 400
    assert error_code(response) == "MISSING_REQUEST_HEADER.GMP_GATEWAY_API"


async def test_unknown_and_removed_consumer_is_refused(
    client: httpx.AsyncClient,
    control: SimulatorControl,
    simulator: SimulatorServer,
    rsa_key: RSAPrivateKey,
    consumer: str,
) -> None:
    target = url(simulator, "/v3/ca/feeds")
    stranger = signed_headers(rsa_key, target, consumer_id="00000000-0000-0000-0000-000000000000")
    assert (await client.get(target, headers=stranger)).status_code == 401
    control.remove_consumer(CONSUMER_ID)
    response = await client.get(target, headers=signed_headers(rsa_key, target))
    assert response.status_code == 401
    assert error_code(response) == UNAUTHORIZED


async def test_wrong_method_key_or_layout_is_refused(
    client: httpx.AsyncClient,
    simulator: SimulatorServer,
    rsa_key: RSAPrivateKey,
    other_key: RSAPrivateKey,
    consumer: str,
) -> None:
    target = url(simulator, "/v3/ca/feeds")
    signed_for_get = signed_headers(rsa_key, target, "GET")
    assert (await client.post(target, headers=signed_for_get)).status_code == 401
    lower = signed_headers(rsa_key, target, "get")
    assert (await client.get(target, headers=lower)).status_code == 401
    foreign = signed_headers(other_key, target)
    assert (await client.get(target, headers=foreign)).status_code == 401
    headers = signed_headers(rsa_key, target)
    stamp = headers["WM_SEC.TIMESTAMP"]
    no_lf = sign(rsa_key, CONSUMER_ID, target, "GET", stamp, trailing_newline=False)
    headers["WM_SEC.AUTH_SIGNATURE"] = no_lf
    assert (await client.get(target, headers=headers)).status_code == 401
    headers["WM_SEC.AUTH_SIGNATURE"] = "not base64!"
    assert (await client.get(target, headers=headers)).status_code == 401
