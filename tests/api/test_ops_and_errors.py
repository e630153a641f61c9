"""Probes, the OpenAPI document, request ids and the one error shape."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.crypto import KekUnavailable
from app.db import make_engine
from app.main import create_app
from tests.api.helpers import assert_error


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz", headers={"Authorization": ""})
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "kek": "ok"},
        "details": {"data_keys_on_old_keks": 0},
    }


class _DeadKek:
    name = "local"
    active_key_id = "dead"

    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        raise KekUnavailable("down")

    async def unwrap(self, key_id: str, wrapped: bytes, *, context: Mapping[str, str]) -> bytes:
        raise KekUnavailable("down")

    def knows(self, key_id: str) -> bool:
        return True


async def _run(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://vault.test") as http:
        return await http.request(method, path, **kwargs)


async def test_readyz_names_the_failed_checks(settings: Settings) -> None:
    from app.crypto import Envelope

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.vault
        healthy_engine = state.engine
        state.engine = make_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none", timeout_seconds=1
        )
        state.envelope = Envelope(_DeadKek())
        response = await _run(app, "GET", "/readyz")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"database": "failed", "kek": "failed"},
            "details": {},
        }
        await state.engine.dispose()
        state.engine = healthy_engine


async def test_unexpected_error_is_a_bare_500_with_request_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("CANARY-internal-detail")

    async with app.router.lifespan_context(app):
        response = await _run(app, "GET", "/boom", headers={"X-Request-ID": "req-123"})
    error = assert_error(response, 500, "internal_error")
    assert error["details"] == {"request_id": "req-123"}
    assert "CANARY" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"] == "req-123"
    crash_log = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "RuntimeError" in crash_log
    assert "CANARY" not in crash_log


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    assert given.headers["x-request-id"] == "abc-1"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith tab"})
    assert len(made.headers["x-request-id"]) == 32


async def test_unknown_route_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/nope"), 404, "not_found")
    assert_error(await client.put("/v1/credentials"), 405, "method_not_allowed")


async def test_oversized_body_gets_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/credentials", content=b"{" + b" " * 70_000 + b"}")
    assert_error(response, 413, "payload_too_large")

    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 4096

    streamed = await client.post(
        "/v1/credentials", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(streamed, 413, "payload_too_large")


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/credentials", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error(response, 422, "validation_error")


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.json()
    return spec


async def test_docs_offer_bearer_authorize(
    client: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API client's token.",
    }
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = spec["components"]["schemas"][ref.split("/")[-1]]
    return resolved


async def test_every_body_has_an_example_and_every_error_is_documented(
    openapi: dict[str, Any],
) -> None:
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            body = operation.get("requestBody")
            if body is not None:
                schema = _resolve(openapi, body["content"]["application/json"]["schema"])
                assert schema.get("examples"), f"{where} has no example body"
            if path.startswith("/v1/"):
                assert operation.get("security") == [{"HTTPBearer": []}], where
                for status in ("401", "403", "422", "503"):
                    error = operation["responses"].get(status)
                    assert error is not None, f"{where} does not document {status}"
                    ref = error["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), where


async def test_readyz_and_metrics_show_keys_on_an_older_kek(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from pydantic import SecretStr

    from tests.factories import keks_rotated_to, oauth_body

    await client.post("/v1/credentials", json=oauth_body())
    rotated = settings.model_copy(
        update={"local_keks": SecretStr(keks_rotated_to("next", settings.local_keks))}
    )
    app = create_app(rotated)
    async with app.router.lifespan_context(app):
        ready = await _run(app, "GET", "/readyz")
        metrics = await _run(app, "GET", "/metrics")
    assert ready.status_code == 200
    assert ready.json()["details"] == {"data_keys_on_old_keks": 1}
    assert "vault_data_keys_on_old_keks 1.0" in metrics.text
