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
from hypothesis import HealthCheck, Phase, given
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
from tests.security.world import World

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


def _path_parameters(path: str, method: str, world: World) -> dict[str, str] | None:
    """Point positive cases at real resources, so they get past the 404 into the handlers."""
    if "{credential_id}" in path:
        # DELETE gets its own credential so the others keep theirs for the whole run.
        target = world.doomed_id if method == "DELETE" else world.signature_id
        if path.endswith("/token/invalidate"):
            target = world.oauth_id
        return {"credential_id": target}
    if "{account_id}" in path:
        return {"account_id": world.account_id}
    return None


def _fuzz_operation(
    operation: Any, mode: GenerationMode, world: World, send: Send, tally: Counter[str]
) -> None:
    path_parameters = None
    if mode is GenerationMode.POSITIVE:
        path_parameters = _path_parameters(operation.path, operation.method.upper(), world)
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @HYPOTHESIS
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://vault.test", headers=AUTH)
        response = send(kwargs)
        tally["fuzz cases run"] += 1
        case.validate_response(response, checks=CHECKS)
        # schemathesis accepts the documented 502-504 of the header endpoints; the simulator is
        # healthy and knows every credential, so any 5xx here is the vault's own failure.
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)

    fuzz()


def _fuzz_all(schema: Any, world: World, send: Send, tally: Counter[str]) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.POSITIVE]
        if operation.definition.raw.get("parameters") or "requestBody" in operation.definition.raw:
            modes.append(GenerationMode.NEGATIVE)  # nothing to make invalid otherwise
        for mode in modes:
            _fuzz_operation(operation, mode, world, send, tally)


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
    http: httpx.AsyncClient, world: World, security_counts: Counter[str]
) -> None:
    # ``http``: a crash comes back as the 500 a server would send, for schemathesis to judge.
    document = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    loop = asyncio.get_running_loop()

    def send(kwargs: dict[str, Any]) -> httpx.Response:
        coroutine = http.request(**_to_httpx(kwargs))
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    tally: Counter[str] = Counter()
    await asyncio.to_thread(_fuzz_all, schema, world, send, tally)
    security_counts.update(tally)
    operations = sum(1 for _ in schema.get_all_operations())
    assert operations == 36
    assert tally["fuzz cases run"] >= operations * MAX_EXAMPLES, tally
    # No fuzzed DELETE /v1/clients/{id} revoked the admin: the whole run was authenticated.
    assert (await http.get("/v1/clients")).status_code == 200
