"""Schemathesis fuzzing of every operation in the app's own OpenAPI document.

Proves that, for generated valid and invalid inputs on every documented operation, sent as the
bootstrap admin through ASGI to the real app: no answer is a 5xx, every status is one the
operation documents, and every body (errors included) matches the documented schema and
content type.

Schemathesis generates and validates; the requests themselves go through the test's own
``httpx.AsyncClient`` on the event loop that runs the app's lifespan (its database pools and
Walmart client belong to that loop). Hypothesis runs in a worker thread and hands each request
to the loop. Generation is derandomized and bounded (``MAX_EXAMPLES`` per operation and mode),
so a run is reproducible and takes seconds per backend.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import BOOTSTRAP_TOKEN
from tests.security.world import NEW_APP, NEW_WEBHOOK, Newer, World

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
HYPOTHESIS = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
AUTH = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
Send = Callable[[dict[str, Any]], httpx.Response]
Targets = Callable[[str, str], dict[str, str] | None]  # (path, method): path parameters


def _targets(world: World, newer: Newer, doomed: dict[str, str]) -> Targets:
    """Real resources for positive cases' path parameters, so they get past the 404 into the
    handlers; DELETE gets its own (``doomed``) so the others keep theirs for the whole run."""
    real = {"account_id": world.account_id, "app_id": newer.app_id}
    real |= {"connection_id": newer.connection_id, "webhook_id": newer.webhook_id}
    real |= {"delivery_id": newer.delivery_id}

    def path_parameters(path: str, method: str) -> dict[str, str] | None:
        ids = real | {"credential_id": world.signature_id}
        if path.endswith("/token/invalidate"):
            ids["credential_id"] = world.oauth_id
        if method == "DELETE":
            ids |= doomed
        return {name: value for name, value in ids.items() if f"{{{name}}}" in path} or None

    return path_parameters


def _fuzz_operation(
    operation: Any, mode: GenerationMode, targets: Targets, send: Send, tally: Counter[str]
) -> None:
    path_parameters = None
    if mode is GenerationMode.POSITIVE:
        path_parameters = targets(operation.path, operation.method.upper())
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @HYPOTHESIS
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://vault.test", headers=AUTH)
        try:
            response = send(kwargs)
        except httpx.InvalidURL:
            reject()  # longer than any client sends (httpx stops at 65,536 characters)
        tally["fuzz cases run"] += 1
        case.validate_response(response, checks=CHECKS)
        # schemathesis accepts the documented 502-504 of the header endpoints; the simulator is
        # healthy and knows every credential, so any 5xx here is the vault's own failure.
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)

    fuzz()


# The proxy answers with Walmart's statuses, headers and bodies, not the vault's schemas; its
# own behaviour is tested in tests/api/test_proxy.py.
PROXY = "/v1/proxy/"


def _proxied(operation: Any) -> bool:
    return str(operation.path).startswith(PROXY)


def _vault_operations(schema: Any) -> int:
    return len([r for r in schema.get_all_operations() if not _proxied(r.ok())])


def _fuzz_all(schema: Any, targets: Targets, send: Send, tally: Counter[str]) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        if _proxied(operation):
            continue
        modes = [GenerationMode.POSITIVE]
        if operation.definition.raw.get("parameters") or "requestBody" in operation.definition.raw:
            modes.append(GenerationMode.NEGATIVE)  # nothing to make invalid otherwise
        for mode in modes:
            _fuzz_operation(operation, mode, targets, send, tally)


def _to_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``requests``-style arguments (what schemathesis serializes a case into) for httpx."""
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": {k: v for k, v in kwargs["headers"].items() if v is not None},
        "params": kwargs.get("params") or None,
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data.encode() if isinstance(data, str) else data
    return request


async def test_openapi_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    http: httpx.AsyncClient, world: World, newer: Newer, security_counts: Counter[str]
) -> None:
    # ``http``: a crash comes back as the 500 a server would send, for schemathesis to judge.
    app = await http.post("/v1/walmart-apps", json=NEW_APP | {"client_id": "fuzz-doomed"})
    webhook = await http.post("/v1/webhooks", json=NEW_WEBHOOK)
    doomed = {"credential_id": world.doomed_id, "app_id": app.json()["id"]}
    doomed |= {"webhook_id": webhook.json()["id"]}
    targets = _targets(world, newer, doomed)
    document = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    loop = asyncio.get_running_loop()

    def send(kwargs: dict[str, Any]) -> httpx.Response:
        coroutine = http.request(**_to_httpx(kwargs))
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    tally: Counter[str] = Counter()
    await asyncio.to_thread(_fuzz_all, schema, targets, send, tally)
    security_counts.update(tally)
    operations = _vault_operations(schema)
    assert operations == 37
    assert tally["fuzz cases run"] >= operations * MAX_EXAMPLES, tally
    # No fuzzed DELETE /v1/clients/{id} revoked the admin: the whole run was authenticated.
    assert (await http.get("/v1/clients")).status_code == 200
