"""The App Store side: consent page, authorization-code and refresh-token grants, rotation,
revocation."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.walmart_sim import SimulatorControl
from tests.walmart_sim.testkit import basic, service_headers

APP_ID, APP_SECRET = "provider-app", "provider-app-secret-0123456789"
CALLBACK = "https://vault.test/connect/walmart/callback"
SELLER = "10000012345"


def consent_query(**overrides: str) -> dict[str, str]:
    query = {
        "responseType": "code",
        "clientId": APP_ID,
        "redirectUri": CALLBACK,
        "clientType": "seller",
        "nonce": "abc123nonce",
        "state": "opaque-state",
    }
    return query | overrides


async def authorize(client: httpx.AsyncClient, **overrides: str) -> dict[str, str]:
    query = consent_query(**overrides)
    page = await client.get("/consent", params=query)
    assert page.status_code == 200, page.text
    decided = await client.post("/consent", data=query | {"decision": "authorize"})
    assert decided.status_code == 302
    location = urlsplit(decided.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def grant(
    client: httpx.AsyncClient, form: dict[str, str], *, seller: str = SELLER
) -> httpx.Response:
    headers = {"Authorization": basic(APP_ID, APP_SECRET), "WM_PARTNER.ID": seller}
    headers |= service_headers()
    return await client.post("/v3/token", headers=headers, data=form)


async def exchange(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    answer = await grant(
        client, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def api_call(client: httpx.AsyncClient, access_token: str) -> int:
    headers = {"WM_SEC.ACCESS_TOKEN": access_token} | service_headers()
    return (await client.get("/v3/orders", headers=headers)).status_code


async def test_consent_page_has_buttons_and_authorize_redirects_with_a_code(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_app(APP_ID, APP_SECRET, [CALLBACK])
    page = await client.get("/consent", params=consent_query())
    assert "text/html" in page.headers["content-type"]
    assert ">Authorize</button>" in page.text
    assert ">Decline</button>" in page.text
    assert SELLER in page.text
    callback = await authorize(client)
    assert callback["type"] == "auth"
    assert callback["clientId"] == APP_ID
    assert callback["state"] == "opaque-state"
    assert callback["sellerId"] == SELLER
    tokens = await exchange(client, callback["code"])
    assert tokens["expires_in"] == 900
    assert tokens["refresh_token"]
    assert await api_call(client, tokens["access_token"]) == 200
    again = await grant(
        client,
        {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": CALLBACK},
    )
    assert again.status_code == 400  # codes are single-use


async def test_decline_and_refused_consent_requests(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_app(APP_ID, APP_SECRET, [CALLBACK])
    declined = await client.post("/consent", data=consent_query() | {"decision": "decline"})
    assert declined.status_code == 302
    query = parse_qs(urlsplit(declined.headers["location"]).query)
    assert query == {"error": ["access_denied"], "state": ["opaque-state"]}
    reused = await client.get("/consent", params=consent_query())
    assert reused.status_code == 400  # the nonce was spent
    for bad in (
        {"redirectUri": "https://evil.test/cb"},
        {"clientId": "nope"},
        {"clientType": "buyer"},
        {"responseType": "token"},
    ):
        page = await client.get("/consent", params=consent_query(nonce="fresh1", **bad))
        assert page.status_code == 400, bad
        assert "location" not in page.headers


async def test_code_must_match_seller_and_redirect_uri(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_app(APP_ID, APP_SECRET, [CALLBACK])
    code = (await authorize(client))["code"]
    wrong_seller = await grant(
        client,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        seller="999",
    )
    assert wrong_seller.status_code == 400
    code = (await authorize(client, nonce="n2"))["code"]
    wrong_uri = await grant(
        client, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK + "x"}
    )
    assert wrong_uri.status_code == 400


async def test_refresh_without_rotation_keeps_the_refresh_token(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_app(APP_ID, APP_SECRET, [CALLBACK])
    tokens = await exchange(client, (await authorize(client))["code"])
    for _ in range(3):
        answer = await grant(
            client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert answer.status_code == 200, answer.text
        assert "refresh_token" not in answer.json()
        assert await api_call(client, answer.json()["access_token"]) == 200
    assert control.stats()["app_store"]["grants"] == {"authorization_code": 1, "refresh_token": 3}


async def test_rotation_retires_the_old_token_only_once_the_new_pair_is_used(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_app(APP_ID, APP_SECRET, [CALLBACK], rotate=True)
    first = (await exchange(client, (await authorize(client))["code"]))["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": first}
    lost = (await grant(client, form)).json()  # an answer the client never stored
    assert lost["refresh_token"] != first
    kept = (await grant(client, form)).json()  # the old token still works: nothing was used
    assert await api_call(client, kept["access_token"]) == 200
    assert (await grant(client, form)).status_code == 400  # retired once the pair was used
    lost_form = {"grant_type": "refresh_token", "refresh_token": lost["refresh_token"]}
    assert (await grant(client, lost_form)).status_code == 400
    new_form = {"grant_type": "refresh_token", "refresh_token": kept["refresh_token"]}
    assert (await grant(client, new_form)).status_code == 200


async def test_rotation_can_retire_the_old_token_at_once(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_app(APP_ID, APP_SECRET, [CALLBACK], rotate=True, retire_at_once=True)
    first = (await exchange(client, (await authorize(client))["code"]))["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": first}
    answer = (await grant(client, form)).json()
    assert (await grant(client, form)).status_code == 400  # retired though nothing was used
    new_form = {"grant_type": "refresh_token", "refresh_token": answer["refresh_token"]}
    assert (await grant(client, new_form)).status_code == 200


async def test_revocation_ends_refresh_and_access_tokens(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_app(APP_ID, APP_SECRET, [CALLBACK])
    tokens = await exchange(client, (await authorize(client))["code"])
    control.revoke_app(APP_ID, SELLER)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refused = await grant(client, form)
    assert refused.status_code == 400
    assert refused.json()["error"][0]["code"] == "INVALID_GRANT.GMP_GATEWAY_API"
    assert await api_call(client, tokens["access_token"]) == 401
    control.app_store_settings(refused_refresh_status=401)
    assert (await grant(client, form)).status_code == 401


async def test_app_grants_need_the_partner_id_and_the_app_secret(
    client: httpx.AsyncClient, control: SimulatorControl
) -> None:
    control.add_app(APP_ID, APP_SECRET, [CALLBACK])
    form = {"grant_type": "refresh_token", "refresh_token": "x"}
    headers = {"Authorization": basic(APP_ID, APP_SECRET)} | service_headers()
    missing = await client.post("/v3/token", headers=headers, data=form)
    assert missing.status_code == 400
    wrong = {"Authorization": basic(APP_ID, "nope"), "WM_PARTNER.ID": SELLER} | service_headers()
    assert (await client.post("/v3/token", headers=wrong, data=form)).status_code == 401
