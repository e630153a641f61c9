"""What an account restriction actually confines, beyond the status codes of the matrix.

Proves that a client limited to some accounts sees only those accounts in the unfiltered
lists (credentials, audit events), that client listings never carry a token, and that an
account-restricted admin cannot step outside its accounts through ``/v1/clients`` (minting an
unrestricted client, or revoking one).
"""

from __future__ import annotations

import httpx

from tests.api.helpers import bearer, new_client_token
from tests.conftest import BOOTSTRAP_TOKEN
from tests.security.world import World, assert_refused


async def test_restricted_client_sees_only_its_accounts_in_lists(
    http: httpx.AsyncClient, world: World
) -> None:
    token = await new_client_token(
        http, "credentials:read", "audit:read", account_ids=[world.other_account_id]
    )
    credentials = await http.get("/v1/credentials", headers=bearer(token))
    assert credentials.status_code == 200, credentials.text
    assert {c["account_id"] for c in credentials.json()["items"]} == {world.other_account_id}
    audit = await http.get("/v1/audit", params={"limit": 200}, headers=bearer(token))
    assert audit.status_code == 200, audit.text
    assert audit.json()["items"]
    assert {e["account_id"] for e in audit.json()["items"]} <= {world.other_account_id}
    other = await http.get(f"/v1/credentials/{world.signature_id}", headers=bearer(token))
    assert_refused(other, 403, "forbidden")
    assert world.signature_id not in other.text


async def test_client_listing_never_carries_a_token(http: httpx.AsyncClient) -> None:
    token = await new_client_token(http, "audit:read")
    listing = await http.get("/v1/clients")
    assert listing.status_code == 200
    assert token not in listing.text
    assert BOOTSTRAP_TOKEN not in listing.text
    assert all("token" not in item and "token_hash" not in item for item in listing.json()["items"])


async def restricted_admin(http: httpx.AsyncClient, world: World) -> dict[str, str]:
    """An admin limited to one account (the vault lets such a client manage credentials of
    that account; it must not let it manage clients)."""
    response = await http.post(
        "/v1/clients",
        json={"name": "ops-acme", "scopes": ["admin"], "account_ids": [world.account_id]},
    )
    assert response.status_code == 201, response.text
    return bearer(response.json()["token"])


async def test_restricted_admin_cannot_mint_an_unrestricted_client(
    http: httpx.AsyncClient, world: World
) -> None:
    headers = await restricted_admin(http, world)
    for body in (
        {"name": "wider", "scopes": ["admin"]},
        {"name": "elsewhere", "scopes": ["credentials:read"], "account_ids": ["someone-else"]},
    ):
        assert_refused(await http.post("/v1/clients", json=body, headers=headers), 403)


async def test_restricted_admin_cannot_revoke_an_unrestricted_client(
    http: httpx.AsyncClient, world: World
) -> None:
    headers = await restricted_admin(http, world)
    wider = await http.post("/v1/clients", json={"name": "wide", "scopes": ["admin"]})
    victim = wider.json()["id"]
    assert_refused(await http.delete(f"/v1/clients/{victim}", headers=headers), 403)
