"""The vault's refusals become ``VaultError``; the vault token shows up nowhere.

"Nowhere" is checked where it could leak: the auth's ``repr``, the error's ``str`` and
``repr``, every log record of the test process (httpx and httpcore at DEBUG included), and
the vault process's own log.
"""

from __future__ import annotations

import logging
import pickle
import uuid
from typing import Any

import httpx
import pytest
from mports_vault_client import VaultError, WalmartAuth

from tests.conftest import sandbox_url
from tests.replicas import Replicas
from tests.sdk.conftest import MakeAuth, new_api_client, walmart_calls
from tests.walmart_sim import SimulatorControl, SimulatorServer


def assert_hidden(token: str, error: VaultError) -> None:
    assert token not in str(error)
    assert token not in repr(error)
    assert token not in repr(error.details)


async def test_unknown_vault_token(
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    signature_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    token = f"unknown-{uuid.uuid4().hex}"
    auth = make_auth(credential_id=signature_credential["id"], vault_token=token)
    async with httpx.AsyncClient(base_url=walmart.base_url, auth=auth) as client:
        with pytest.raises(VaultError) as caught:
            await client.get("/v3/ca/feeds?limit=5")
    assert (caught.value.status_code, caught.value.code) == (401, "unauthenticated")
    assert caught.value.message
    assert_hidden(token, caught.value)
    assert walmart_calls(walmart_control, "/v3/ca/feeds") == []  # nothing went to Walmart


def test_revoked_vault_token(
    admin: httpx.Client,
    walmart: SimulatorServer,
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    api_client = new_api_client(admin, "headers:issue")
    auth = make_auth(credential_id=oauth_credential["id"], vault_token=api_client["token"])
    with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
        assert client.get("/v3/orders").status_code == 200
        assert admin.delete(f"/v1/clients/{api_client['id']}").status_code == 204
        with pytest.raises(VaultError) as caught:
            client.get("/v3/orders")
    assert (caught.value.status_code, caught.value.code) == (401, "unauthenticated")
    assert_hidden(api_client["token"], caught.value)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown credential", 404, "not_found"),
        ("token without headers:issue", 403, "forbidden"),
        ("url off the credential's origin", 422, "invalid_request"),
    ],
)
def test_vault_refusals(
    case: str,
    status: int,
    code: str,
    admin: httpx.Client,
    walmart: SimulatorServer,
    signature_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    target: dict[str, Any] = {"credential_id": signature_credential["id"]}
    base_url = walmart.base_url
    if case == "unknown credential":
        target["credential_id"] = uuid.uuid4()
    elif case == "token without headers:issue":
        target["vault_token"] = new_api_client(admin, "credentials:read")["token"]
    else:
        base_url = sandbox_url(walmart.base_url)  # same server, another origin
    auth = make_auth(**target)
    with httpx.Client(base_url=base_url, auth=auth) as client, pytest.raises(VaultError) as caught:
        client.get("/v3/ca/feeds?limit=5")
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert isinstance(caught.value.details, dict)
    clone = pickle.loads(pickle.dumps(caught.value))  # noqa: S301  (our own object)
    assert (clone.status_code, clone.code, clone.details) == (status, code, caught.value.details)


def test_token_absent_from_repr_and_logs(
    caplog: pytest.LogCaptureFixture,
    vault: Replicas,
    sdk_token: str,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
    oauth_credential: dict[str, Any],
    make_auth: MakeAuth,
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = make_auth(credential_id=oauth_credential["id"])
    by_account = make_auth(account_id="acme-001", market="US", environment="production")
    for shown in (repr(auth), repr(by_account), repr(vars(auth)), repr(vars(vars(auth)["_vault"]))):
        assert sdk_token not in shown
    assert (
        repr(auth)
        == f"WalmartAuth(vault_url={vault.urls[0]!r}, credential_id={oauth_credential['id']!r})"
    )
    walmart_control.add_fault(path_prefix="/v3/orders", mode="status", status=401, times=1)
    with httpx.Client(base_url=walmart.base_url, auth=auth) as client:
        assert client.get("/v3/orders").status_code == 200  # headers, invalidate, headers
    assert caplog.records, "httpx logs at DEBUG, so the check below has something to read"
    assert sdk_token not in caplog.text
    assert sdk_token not in vault.log(0)


@pytest.mark.parametrize(
    "target",
    [
        {},
        {"credential_id": "c", "account_id": "a", "market": "US", "environment": "production"},
        {"account_id": "a", "market": "US"},
        {"credential_id": "c", "vault_token": ""},
    ],
)
def test_constructor_wants_one_target_and_a_token(target: dict[str, Any]) -> None:
    target.setdefault("vault_token", "t")
    with pytest.raises(ValueError, match=r"credential_id|account_id|vault_token"):
        WalmartAuth(vault_url="http://vault.invalid", **target)
