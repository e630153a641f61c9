"""The ASGI application: ``create_app(settings)`` wires state, routers and error handlers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException

from app import api_docs
from app.audit.router import router as audit_router
from app.clients.bootstrap import prepare_callers
from app.clients.router import router as clients_router
from app.config import ConfigurationError, Settings, get_settings
from app.connections.pages import router as connection_pages_router
from app.connections.router import apps_router as walmart_apps_router
from app.connections.router import router as connections_router
from app.credentials.router import router as credentials_router
from app.crypto import EnvelopeError, KekUnavailable
from app.crypto.key_worker import key_check_pool
from app.db import DATABASE_UNAVAILABLE
from app.errors import (
    Conflict,
    DatabaseUnavailable,
    KeyServiceUnavailable,
    VaultError,
    describe_validation_errors,
)
from app.headers.fast_lane import HeadersFastLane
from app.headers.router import router as headers_router
from app.intake.pages import router as intake_pages_router
from app.intake.router import router as intake_links_router
from app.keys.providers import build_envelope
from app.ops.kek_usage import WrapRecorder
from app.ops.logging import configure_logging
from app.ops.middleware import MAX_BODY_BYTES, RequestContextMiddleware
from app.ops.router import router as ops_router
from app.pages.render import STATIC_PATH, static_files
from app.proxy.router import router as proxy_router
from app.sqlite_server_lock import SqliteInUse, serving_sqlite_alone
from app.state import app_state
from app.webhooks.router import router as webhooks_router

log = logging.getLogger("vault.app")

DESCRIPTION = """
The credential vault behind mPorts' Walmart integration. Operators register, rotate, test and
retire sellers' Walmart API credentials; other services ask for the signed headers of one
Walmart call at a time and never hold a private key or client secret.

Every `/v1` call needs `Authorization: Bearer <token>` of an API client (use **Authorize**).
Every error is `{"error": {"code", "message", "details"}}`.
"""


def create_app(settings: Settings, *, freeze_gc: bool = False) -> FastAPI:
    """The vault's ASGI app. ``freeze_gc`` is for a server process that builds one app: see
    the lifespan."""
    configure_logging(settings.log_level)
    kek = build_envelope(settings)  # before serving: a bad KEK setting fails right here

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = False
        try:
            # The key-check processes end with the app, not with the interpreter.
            with serving_sqlite_alone(settings.database_url), key_check_pool():
                async with (
                    app_state(settings, kek.envelope) as state,
                    WrapRecorder(state.sessionmaker, kek.envelope).running(),
                ):
                    app.state.vault = state
                    await prepare_callers(settings, state.sessionmaker)
                    if freeze_gc:
                        # Everything built so far (modules, models, routes, caches) lives
                        # as long as the process: freezing it keeps every later full
                        # collection from walking it again, a pause that lands in some
                        # request's latency. A request allocates a few hundred objects that
                        # die with it, so the young generation is collected every 20,000
                        # allocations instead of 700 (the benchmark measured more answers a
                        # second on the fast paths).
                        gc.freeze()
                        gc.set_threshold(20_000, 20, 20)
                    started = True
                    yield
        except (ConfigurationError, SqliteInUse, VaultError) as refused:
            # Messages written for the operator. uvicorn logs the traceback itself as its
            # message text, of which the JSON log keeps only the exception's type.
            if not started:
                log.error("the vault cannot start: %s", refused)
            raise
        finally:
            await kek.aclose()

    app = FastAPI(
        title="mPorts Walmart credential vault",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by app.api_docs from the vault's own files: FastAPI's pages load a CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # Starlette's trailing-slash redirect builds its Location from the request's Host
        # header, so anyone could make the vault point a client elsewhere: a path is found
        # exactly as the contract spells it, or not at all.
        redirect_slashes=False,
        # Prometheus and JSON logs are the vault's telemetry. FastAPI's native OpenTelemetry
        # hook looks up the global providers on every request (as much time as the rest of
        # routing) even when none is configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # Added first, so it runs inside the request context (ids, body limit, log, metrics).
    app.add_middleware(HeadersFastLane)
    app.add_middleware(RequestContextMiddleware)
    _install_error_handlers(app)
    app.include_router(ops_router)
    api_docs.install(app)
    app.include_router(clients_router)
    app.include_router(credentials_router)
    app.include_router(headers_router)
    app.include_router(proxy_router)
    app.include_router(audit_router)
    app.include_router(walmart_apps_router)
    app.include_router(connections_router)
    app.include_router(connection_pages_router)
    app.mount(STATIC_PATH, static_files(), name="pages-static")
    app.include_router(webhooks_router)
    app.include_router(intake_links_router)
    app.include_router(intake_pages_router)
    return app


FASTAPI_UNREADABLE_BODY = "There was an error parsing the body"


def _validation_error(message: str, details: dict[str, Any]) -> JSONResponse:
    body = {"error": {"code": "validation_error", "message": message, "details": details}}
    return JSONResponse(body, status_code=422)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VaultError)
    async def vault_error(request: Request, exc: VaultError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        summary, details = describe_validation_errors(exc.errors())
        return _validation_error(f"The request is not valid: {summary}", details)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == FASTAPI_UNREADABLE_BODY:
            # FastAPI's own answer when Python's JSON parser gives up (invalid UTF-8, nesting
            # or number limits): a malformed request like any other, so 422.
            return _validation_error(
                "The request body is not readable JSON (check its UTF-8 encoding, nesting "
                "depth and number sizes).",
                {"errors": [{"field": "body", "problem": "unreadable JSON"}]},
            )
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        code = codes.get(exc.status_code, "http_error")
        details = {"limit_bytes": MAX_BODY_BYTES} if exc.status_code == 413 else {}
        body = {"error": {"code": code, "message": str(exc.detail), "details": details}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Raised outside a `transaction` (hot-path reads): the same answer as inside one.
        error = DatabaseUnavailable()
        return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)

    for error_class in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_class, database_unavailable)

    async def changed_meanwhile(request: Request, exc: Exception) -> JSONResponse:
        # A write that lost a race no service translated: another request changed the same
        # row (optimistic version check) or took the same unique value first.
        error = Conflict("The record changed at the same time; read it again and retry.")
        return JSONResponse(error.body(), status_code=error.status_code)

    app.add_exception_handler(IntegrityError, changed_meanwhile)
    app.add_exception_handler(StaleDataError, changed_meanwhile)

    @app.exception_handler(KekUnavailable)
    async def kek_unavailable(request: Request, exc: KekUnavailable) -> JSONResponse:
        error = KeyServiceUnavailable("The key service did not answer; try again shortly.")
        return JSONResponse(error.body(), status_code=error.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = _request_id(request)
        # The type only: an exception's message may quote data that was being handled.
        log.error(
            "unhandled exception",
            extra={"request_id": request_id, "exception": type(exc).__name__},
        )
        body: dict[str, Any] = {
            "error": {
                "code": "internal_error",
                "message": "The vault hit an unexpected error; quote the request id to support.",
                "details": {"request_id": request_id},
            }
        }
        status = 500
        if isinstance(exc, EnvelopeError):
            body["error"]["code"] = "sealed_value_unreadable"
        return JSONResponse(body, status_code=status, headers={"x-request-id": request_id or ""})


def _build() -> FastAPI:
    return create_app(get_settings(), freeze_gc=True)


def __getattr__(name: str) -> Any:
    # `app.main:app` is built on first access, so importing this module reads no settings.
    if name == "app":
        return _build()
    raise AttributeError(name)
