"""The README's examples, run as written against a real vault process and the simulator.

Blocks marked ``<!-- readme-test -->`` are extracted in order. The shell blocks run in one bash
session (so variables flow from one example to the next, as for a reader following along),
with one line of test glue: before the rotation example the simulator learns the new key, as
Walmart would after "Regenerate Key". The Python block then runs with the SDK importable.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOOTSTRAP_TOKEN, PUBLIC_URL, ROOT, migrate
from tests.factories import CHANNEL_TYPE, new_rsa_key, public_pem, seller_center_key
from tests.replicas import Replicas
from tests.walmart_sim import SimulatorControl, SimulatorServer
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow
CALLBACK = "/connect/walmart/callback"
APP_CLIENT_ID, APP_CLIENT_SECRET = "readme-app", "readme-app-secret"
# The seller's part of the App Store guide, in place of their browser: open the consent page,
# press Authorize, and follow Walmart's redirect to the callback page (on this test's vault).
SELLER_AUTHORIZES = """CONSENT_URL="$CONSENT_URL" python3 - <<'SELLER'
import os
from urllib.parse import parse_qs, urlsplit
import httpx
url = os.environ["CONSENT_URL"]
query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
httpx.get(url).raise_for_status()
form = {k: query[k] for k in ("clientId", "redirectUri", "clientType", "nonce", "state")}
answer = httpx.post(url.split("?")[0], data=form | {"decision": "authorize"})
back = urlsplit(answer.headers["location"])
page = httpx.get(os.environ["VAULT"] + back.path + "?" + back.query)
assert page.status_code == 200, page.text
SELLER
"""
BLOCK = re.compile(r"<!-- readme-test -->\n```(sh|python)\n(.*?)```", re.DOTALL)
RECEIVER_BLOCK = re.compile(r"<!-- readme-receiver -->\n```python\n(.*?)```", re.DOTALL)


def readme_blocks() -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in BLOCK.finditer((ROOT / "README.md").read_text())]


def test_readme_marks_examples() -> None:
    kinds = [kind for kind, _ in readme_blocks()]
    assert kinds.count("sh") >= 6
    assert kinds.count("python") == 1


def readme_receiver(secret: str, receiver: Receiver) -> list[str]:
    """The README's receiver code, run on what the vault delivered to a real receiver."""
    (code,) = RECEIVER_BLOCK.findall((ROOT / "README.md").read_text())
    namespace: dict[str, Any] = {}
    os.environ["VAULT_WEBHOOK_SECRET"] = secret
    try:
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102  (our own README)
    finally:
        del os.environ["VAULT_WEBHOOK_SECRET"]
    return [namespace["on_webhook"](r.body, r.headers) for r in receiver.received]


def test_readme_examples_run(
    local_keks: str, walmart: SimulatorServer, walmart_control: SimulatorControl, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}"
    migrate(url)
    old_key, new_key = new_rsa_key(1024), new_rsa_key(1024)
    consumer_id, client_id, client_secret = "0b7c2f1e-readme", "readme-client", "readme-secret"
    walmart_control.add_consumer(consumer_id, old_key, channel_type=CHANNEL_TYPE)
    walmart_control.add_oauth_client(client_id, client_secret)
    regenerated = {
        "consumer_id": consumer_id,
        "public_key_pem": public_pem(new_key),
        "channel_type": CHANNEL_TYPE,
    }
    (tmp_path / "regenerated.json").write_text(json.dumps(regenerated))
    glue = (
        f'curl -sf -X POST "{walmart.base_url}/_sim/consumers" '
        "-H 'Content-Type: application/json' -d @regenerated.json > /dev/null\n"
    )
    # The seller at the hand-over link: their browser opens it at the public address, gets the
    # form and posts it with the keys they copied from Seller Center.
    seller_key = new_rsa_key(1024)
    walmart_control.add_consumer("maple-consumer", seller_key, channel_type=CHANNEL_TYPE)
    seller = (
        f'SELLER_LINK="$VAULT${{LINK#{PUBLIC_URL}}}"\n'
        'CSRF=$(curl -sf "$SELLER_LINK" | grep -o \'name="csrf_token" value="[0-9a-f]*"\' '
        "| cut -d'\"' -f4)\n"
        'curl -sf "$SELLER_LINK" --data-urlencode "csrf_token=$CSRF" '
        '--data-urlencode "consumer_id=maple-consumer" '
        '--data-urlencode "private_key=$SELLER_PRIVATE_KEY" '
        '--data-urlencode "channel_type=$CHANNEL_TYPE" > /dev/null\n'
    )
    # The webhook guide: the seller regenerates the key (Walmart forgets it), then sends it.
    consumer = f'"{walmart.base_url}/_sim/consumers'
    break_and_fix = [
        f'curl -sf -X DELETE {consumer}/{consumer_id}" > /dev/null\n',
        f"curl -sf -X POST {consumer}\" -H 'Content-Type: application/json' "
        "-d @regenerated.json > /dev/null\n",
    ]
    walmart_control.add_app(APP_CLIENT_ID, APP_CLIENT_SECRET, [PUBLIC_URL + CALLBACK])
    shell, python = [], []
    for kind, code in readme_blocks():
        if kind == "python":
            python.append(code)
            continue
        if "/rotate" in code:
            shell.append(glue)
        if "intake-links?account_id" in code:
            shell.append(seller)
        if "/v1/credentials/$CREDENTIAL/test" in code:
            shell.append(break_and_fix.pop(0))
        if '/v1/connections/$CONNECTION"' in code:
            shell.append(SELLER_AUTHORIZES)
        shell.append(code)
    shell.append('printf "%s" "$SERVICE_TOKEN" > service-token\n')
    settings = {
        "VAULT_ENV": "production",
        "VAULT_DATABASE_URL": url,
        "VAULT_LOCAL_KEKS": local_keks,
        "VAULT_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "VAULT_WALMART_PRODUCTION_URL": walmart.base_url,
        "VAULT_PUBLIC_URL": PUBLIC_URL,
        "VAULT_WALMART_ALLOW_HTTP": "true",
        "VAULT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "VAULT_WALMART_CONSENT_URL": f"{walmart.base_url}/consent",
    }
    with Replicas(1, settings, tmp_path) as vault, Receiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")} | {
            **settings,  # vault-admin reads the service's own settings
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "VAULT": vault.urls[0],
            "TOKEN": BOOTSTRAP_TOKEN,
            "WALMART": walmart.base_url,
            "CONSUMER_ID": consumer_id,
            "PRIVATE_KEY": seller_center_key(old_key),
            "NEW_PRIVATE_KEY": seller_center_key(new_key),
            "SELLER_PRIVATE_KEY": seller_center_key(seller_key),
            "CHANNEL_TYPE": CHANNEL_TYPE,
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": client_secret,
            "RECEIVER": receiver.url,
            "APP_CLIENT_ID": APP_CLIENT_ID,
            "APP_CLIENT_SECRET": APP_CLIENT_SECRET,
        }
        ran = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + "\n".join(shell)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout.split() == [
            "valid",
            "connected",
            "app_oauth",
            "2",
            "current",
            "used",
            "credential.rotated",
            "invalid_credentials",
            "valid",
            "credential.recovered",
            "0",
            "True",
        ]
        asyncio.run(receiver.wait_for(2))
        handled = readme_receiver((tmp_path / "webhook-secret").read_text().strip(), receiver)
        assert handled == [
            "acme-ca: ask the seller to reconnect (test_failed)",
            "acme-ca: connected again",
        ]
        env["SERVICE_TOKEN"] = (tmp_path / "service-token").read_text()
        env["PYTHONPATH"] = str(ROOT / "clients" / "python")
        sdk = subprocess.run(
            [sys.executable, "-c", python[0]],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sdk.returncode == 0, sdk.stderr
        assert sdk.stdout.strip() == "200"
