"""The proxy refuses paths that would hide their segments from the vault, and Walmart's token
endpoint, whose answer (an access token) must never leave the vault."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import assert_error, bearer, new_client_token
from tests.api.walmart_setup import oauth_credential
from tests.walmart_sim import SimulatorControl


def _sent_paths(control: SimulatorControl) -> list[str]:
    return [r["raw_url"] for r in control.stats()["requests"] if "/v3/orders" not in r["path"]]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("v3%2F..%2F..%2Fx", "%2F"),
        ("v3%2f..%2fx", "%2F"),
        ("v3/orders%5C..%5Cx", "%5C"),
        ("v3/%00x", "%00"),
    ],
)
async def test_encoded_slashes_backslashes_and_nul_are_refused(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, path: str, named: str
) -> None:
    await oauth_credential(client, walmart_control, account_id="acme-001")
    before = len(walmart_control.stats()["requests"])
    response = await client.get("/v1/proxy/acme-001/US/production/" + path)
    error = assert_error(response, 422, "proxy_path_not_allowed")
    assert named in error["message"]
    assert len(walmart_control.stats()["requests"]) == before  # nothing reached Walmart


@pytest.mark.parametrize(
    "path",
    [
        "v3/token",
        "v3/token/",
        "V3/Token",
        "v3//token",
        "v3/./token",
        "v3/orders/../token",
        "v3/%74oken",
        "v3/token/detail",
        "v3/token;x",
    ],
)
async def test_the_token_endpoint_is_never_proxied_in_mx(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, path: str
) -> None:
    await oauth_credential(client, walmart_control, market="MX", account_id="latam")
    caller = await new_client_token(client, "walmart:call", account_ids=["latam"])
    before = [r for r in walmart_control.stats()["requests"] if "token" in r["path"].lower()]
    response = await client.post(
        f"/v1/proxy/latam/MX/production/{path}",
        content=b"grant_type=client_credentials",
        headers={
            **bearer(caller),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    assert_error(response, 403, "token_endpoint_not_proxied")
    assert "access_token" not in response.text
    after = [r for r in walmart_control.stats()["requests"] if "token" in r["path"].lower()]
    assert after == before  # no token call went out for it, with Basic or without


async def test_paths_merely_starting_like_token_still_go_through(
    client: httpx.AsyncClient, walmart_control: SimulatorControl
) -> None:
    await oauth_credential(client, walmart_control, market="MX", account_id="latam")
    response = await client.get("/v1/proxy/latam/MX/production/v3/tokens-report")
    assert response.status_code != 403, response.text
