"""Probes for CI and orchestrators. No authentication, no secrets, cheap to call."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text

from app.crypto import EnvelopeError
from app.ops.metrics import exposition
from app.ops.state_gauges import database_gauges
from app.state import StateDep

router = APIRouter(tags=["operations"])
log = logging.getLogger("vault.ops")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
    summary="Prometheus metrics (vault_*), summed over workers",
)
async def metrics(state: StateDep) -> PlainTextResponse:
    collector = state.metrics
    if collector.stale():
        try:
            async with state.sessionmaker() as session:
                collector.update(await database_gauges(session, state.envelope))
        except Exception:  # a scrape must answer even while the database is away
            log.warning("metrics: database gauges unavailable", exc_info=True)
    body = exposition(collector, state.settings.metrics_dir)
    return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", response_model=Health, summary="The process is serving")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A check failed; `checks` names it."}},
    summary="The database answers and the KEK can wrap and unwrap",
)
async def readyz(state: StateDep) -> Any:
    checks = {"database": "ok", "kek": "ok"}
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any failure at all means "not ready"; the probe never raises
        checks["database"] = "failed"
    try:
        await state.envelope.self_check()
    except EnvelopeError:
        checks["kek"] = "failed"
    ready = all(v == "ok" for v in checks.values())
    body = Readiness(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
