import json

import httpx
from fastapi import FastAPI

from tests.api.test_headers import oauth_credential
from tests.conftest import BOOTSTRAP_TOKEN
from tests.factories import oauth_body, pem_pkcs8, rsa_key, signature_body
from tests.walmart_sim import SimulatorControl


async def test_probe(vault_app: FastAPI, walmart_control: SimulatorControl) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=vault_app, raise_app_exceptions=False),
        base_url="http://vault.test",
        headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
    ) as client:

        async def show(label, r):
            print(f"\nPROBE {label}: {r.status_code} {r.text[:250]}")

        J = {"content-type": "application/json"}
        b = signature_body(account_id="acme-3")
        b["auth"]["private_key"] = pem_pkcs8(rsa_key()).replace("-----\n", "-----\n\ud800", 1)
        r = await client.post("/v1/credentials", content=json.dumps(b), headers=J)
        await show("surrogate pem", r)
        b = signature_body(account_id="acme-4")
        b["auth"]["private_key"] = pem_pkcs8(rsa_key()) + "\ud800"
        r = await client.post("/v1/credentials", content=json.dumps(b), headers=J)
        await show("surrogate pem tail", r)
        cred = await oauth_credential(client, walmart_control, account_id="acme-5")
        r = await client.post(
            f"/v1/credentials/{cred['id']}/rotate",
            content=json.dumps(
                {
                    "auth": {"kind": "oauth", "client_id": "abc", "client_secret": "s\ud800"},
                    "test": False,
                }
            ),
            headers=J,
        )
        await show("rotate surrogate", r)
        r = await client.post(
            f"/v1/credentials/{cred['id']}/rotate",
            content=json.dumps(
                {
                    "auth": {"kind": "oauth", "client_id": "abc", "client_secret": "s\ud800"},
                    "test": True,
                }
            ),
            headers=J,
        )
        await show("rotate surrogate test", r)
        r = await client.post(
            "/v1/credentials?test=true",
            content=json.dumps(oauth_body(account_id="acme-6", secret="s\ud800")),
            headers=J,
        )
        await show("create test surrogate", r)
        r = await client.post(
            f"/v1/credentials/{cred['id']}/rotate",
            json={
                "auth": {"kind": "oauth", "client_id": "abc", "client_secret": "s\x00x"},
                "test": False,
            },
        )
        await show("rotate nul secret", r)
        r = await client.post(
            "/v1/credentials", json=oauth_body(account_id="acme-7", secret="s\x00x")
        )
        await show("nul secret", r)
        b = oauth_body(account_id="acme-8")
        b["label"] = "Ac\u202eme 🛒 e\u0301 \u200d\u0085 ｆｕｌｌ"
        r = await client.post("/v1/credentials", json=b)
        await show("unicode label", r)
        print(r.json().get("label") == b["label"])
        r = await client.get("/v1/credentials", params={"limit": "9" * 5000})
        await show("huge limit", r)
        r = await client.get("/v1/credentials", params={"limit": "1e2"})
        await show("1e2 limit", r)
        r = await client.get("/v1/credentials", params={"limit": " 5"})
        await show("space limit", r)
        r = await client.get("/v1/credentials", params={"limit": "٥"})
        await show("arabic digit limit", r)
        r = await client.get("/v1/credentials", params=[("limit", "5"), ("limit", "500")])
        await show("dup limit", r)
        r = await client.post(
            "/v1/accounts/acme%0d%0a/headers",
            json={"market": "US", "environment": "production", "method": "GET", "url": "http://x"},
        )
        await show("acct crlf", r)
        r = await client.get("/v1/audit", params={"action": "x\x01"})
        await show("ctl action", r)
        r = await client.get("/v1/audit", params={"since": "2020-01-01T00:00:00Z"})
        await show("since ok", r)
        r = await client.get("/v1/audit", params={"since": "2020-01-01"})
        await show("since date", r)
        r = await client.get("/v1/audit", params={"since": "1700000000"})
        await show("since epoch", r)

        async def gen():
            for _ in range(20):
                yield b"x" * 8192

        r = await client.post("/v1/clients", content=gen(), headers=J)
        await show("chunked", r)
        r = await client.post(
            "/v1/clients", content=b"{" + b" " * 70000 + b"}", headers={**J, "content-length": "10"}
        )
        await show("lying cl", r)
        r = await client.post("/v1/clients", content=b"x" * 70000, headers=J)
        await show("cl big", r)
        r = await client.get("/healthz", headers={"x-request-id": "é" * 3})
        await show(f"rid latin {r.headers.get('x-request-id')!r}", r)
        r = await client.get("/healthz", headers={"x-request-id": "a" * 64})
        await show(f"rid 64 {r.headers.get('x-request-id')!r}", r)
