"""What the load runs need: an issuing client, three credentials, and the targets.

Credentials go in through the vault's public API (``POST /v1/credentials``) as an operator
would register them, and their keys into the simulator, so that each one can be checked
end to end once - headers from the vault, accepted by the simulated Walmart - before any
load: a benchmark of headers that Walmart would refuse would measure nothing useful.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.factories import CHANNEL_TYPE, pem_pkcs8
from tests.kms_servers import BaoServer
from tests.walmart_sim import SimulatorControl

from .wrk import Target

TRANSIT_KEY = "bench-rsa-2048"


@dataclass(frozen=True)
class Vault:
    url: str
    admin_token: str
    sim_url: str

    def admin(self) -> httpx.Client:
        auth = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=auth, timeout=30)


def new_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _created(response: httpx.Response) -> dict[str, object]:
    if response.status_code != 201:
        raise RuntimeError(f"{response.request.url} -> {response.status_code}: {response.text}")
    data: dict[str, object] = response.json()
    return data


def issuing_client(vault: Vault) -> str:
    """A ``headers:issue`` API client for the load; returns its bearer token."""
    with vault.admin() as http:
        body = {"name": f"bench-{secrets.token_hex(3)}", "scopes": ["headers:issue"]}
        return str(_created(http.post("/v1/clients", json=body))["token"])


def signature_body(account_id: str, consumer_id: str, key: rsa.RSAPrivateKey) -> dict[str, object]:
    auth = {
        "kind": "signature",
        "consumer_id": consumer_id,
        "private_key": pem_pkcs8(key),
        "channel_type": CHANNEL_TYPE,
    }
    return {
        "account_id": account_id,
        "market": "CA",
        "environment": "production",
        "label": f"bench {account_id}",
        "auth": auth,
    }


def register_signature(
    vault: Vault, http: httpx.Client, account_id: str, key: rsa.RSAPrivateKey
) -> str:
    consumer_id = f"{account_id}-consumer"
    with SimulatorControl(vault.sim_url) as sim:
        sim.add_consumer(consumer_id, key, channel_type=CHANNEL_TYPE)
    body = signature_body(account_id, consumer_id, key)
    return str(_created(http.post("/v1/credentials", json=body))["id"])


def register_oauth(vault: Vault, http: httpx.Client, account_id: str) -> tuple[str, str]:
    """An OAuth (US) credential whose client the simulator knows; ``(credential id, client id)``."""
    client_id, secret = f"{account_id}-client", secrets.token_urlsafe(24)
    with SimulatorControl(vault.sim_url) as sim:
        sim.add_oauth_client(client_id, secret, market="US")
    auth = {"kind": "oauth", "client_id": client_id, "client_secret": secret}
    body = {
        "account_id": account_id,
        "market": "US",
        "environment": "production",
        "label": f"bench {account_id}",
        "auth": auth,
    }
    return str(_created(http.post("/v1/credentials", json=body))["id"]), client_id


def check_end_to_end(vault: Vault, token: str, credential_id: str, url: str) -> None:
    """Headers from the vault must be accepted by the simulated Walmart for that URL."""
    auth = {"Authorization": f"Bearer {token}"}
    issued = httpx.post(
        f"{vault.url}/v1/credentials/{credential_id}/headers",
        json={"method": "GET", "url": url},
        headers=auth,
        timeout=30,
    )
    issued.raise_for_status()
    answer = httpx.get(url, headers=issued.json()["headers"], timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"Walmart simulator refused {credential_id}'s headers: {answer.text}")


def headers_target(name: str, vault: Vault, token: str, credential_id: str, url: str) -> Target:
    return Target(
        name=name,
        url=f"{vault.url}/v1/credentials/{credential_id}/headers",
        body={"method": "GET", "url": url},
        headers={"Authorization": f"Bearer {token}"},
    )


def transit_target(bao: BaoServer, sim_url: str) -> Target:
    """OpenBao Transit signing the same kind of canonical string with an rsa-2048 key."""
    bao.create_key(TRANSIT_KEY, type="rsa-2048")
    canonical = f"bench-consumer\n{sim_url}/v3/ca/feeds?limit=10\nGET\n1700000000000\n"
    body: dict[str, object] = {
        "input": base64.b64encode(canonical.encode()).decode(),
        "signature_algorithm": "pkcs1v15",
    }
    probe = httpx.post(
        f"{bao.address}/v1/transit/sign/{TRANSIT_KEY}/sha2-256",
        json=body,
        headers={"X-Vault-Token": bao.token},
        timeout=30,
    )
    probe.raise_for_status()
    if not probe.json()["data"]["signature"].startswith("vault:v1:"):
        raise RuntimeError(f"unexpected Transit answer: {probe.text}")
    return Target(
        name="transit",
        url=f"{bao.address}/v1/transit/sign/{TRANSIT_KEY}/sha2-256",
        body=body,
        headers={"X-Vault-Token": bao.token},
    )


def ceiling_target(ceiling_url: str, sim_url: str) -> Target:
    body: dict[str, object] = {"method": "GET", "url": f"{sim_url}/v3/ca/feeds?limit=10"}
    httpx.post(f"{ceiling_url}/sign", json=body, timeout=30).raise_for_status()
    return Target(name="ceiling", url=f"{ceiling_url}/sign", body=body)
