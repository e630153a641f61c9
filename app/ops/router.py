"""Probes for CI and orchestrators: no secrets, cheap to call. ``/healthz`` and ``/readyz``
need no authentication; ``/metrics`` needs ``VAULT_METRICS_TOKEN`` when it is set."""

from __future__ import annotations

import contextlib
import hmac
import logging
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.crypto import Envelope
from app.deps import get_state
from app.errors import Unauthenticated, error_responses
from app.ops.kek_probe import KekProbe
from app.ops.metrics import DatabaseCollector, DatabaseSnapshot, exposition
from app.ops.repository import database_answers
from app.single_flight import ShuttingDown, SingleFlight

router = APIRouter(tags=["operations"])
# The database probe's loads: probes and scrapes asking at once share each.
READINESS, GAUGES = "readiness", "gauges"
log = logging.getLogger("vault.ops")


class ProbeState(Protocol):
    """What the probes take from the lifespan state (``app.state.AppState`` provides it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def envelope(self) -> Envelope: ...
    @property
    def metrics(self) -> DatabaseCollector: ...
    @property
    def kek_probe(self) -> KekProbe: ...
    @property
    def database_probe(self) -> SingleFlight[bool]:
        """Shares the database's readiness check and gauge refresh among concurrent asks."""

    async def database_gauges(self) -> DatabaseSnapshot:
        """Credentials by status and data keys by KEK, read from the database."""

    async def webhooks_pending(self) -> int:
        """Webhook deliveries waiting in the outbox."""

    async def refresh_expiring(self) -> dict[str, int]:
        """Live App Store credentials whose refresh token ends within each window."""

    async def kek_wraps(self) -> dict[tuple[str, str], int]:
        """Data keys wrapped per KEK so far (``app.ops.kek_usage``)."""


# The one lookup of app.deps, typed by what this package uses of the state.
StateDep = Annotated[ProbeState, Depends(get_state)]
# auto_error=False: no header (or another scheme) is answered by our own 401, when one is due.
metrics_scheme = HTTPBearer(
    auto_error=False, scheme_name="MetricsToken", description="VAULT_METRICS_TOKEN, when set."
)
ScraperDep = Annotated[HTTPAuthorizationCredentials | None, Depends(metrics_scheme)]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]
    details: dict[str, int] = Field(
        default_factory=dict,
        description="data_keys_on_old_keks: sealed values still wrapped by an older KEK "
        "(run `vault-admin rewrap` after a KEK rotation until it is 0).",
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        **error_responses(401),
    },
    summary="Prometheus metrics (vault_*), summed over workers",
)
async def metrics(state: StateDep, scraper: ScraperDep) -> PlainTextResponse:
    _check_scraper(state.settings, scraper)
    await _refresh_gauges(state)
    body = exposition(state.metrics, state.settings.metrics_dir)
    return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)


def _check_scraper(settings: Settings, scraper: HTTPAuthorizationCredentials | None) -> None:
    if settings.metrics_token is None:
        return
    given = (scraper.credentials if scraper else "").encode("utf-8", "replace")
    if not hmac.compare_digest(given, settings.metrics_token.get_secret_value().encode()):
        raise Unauthenticated(
            "Send VAULT_METRICS_TOKEN as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def _refresh_gauges(state: ProbeState) -> None:
    if not state.metrics.stale():
        return
    # Scrapes and probes that find the gauges stale together share one refresh: a flood of
    # them (neither needs a token by default) must not take every connection of the pool.
    with contextlib.suppress(ShuttingDown):  # stopping: the gauges as they were
        await state.database_probe.run(GAUGES, lambda: _read_gauges(state))


async def _read_gauges(state: ProbeState) -> bool:
    try:
        state.metrics.update(await state.database_gauges())
        state.metrics.webhooks_pending = await state.webhooks_pending()
        state.metrics.refresh_expiring = await state.refresh_expiring()
        state.metrics.kek_wraps = await state.kek_wraps()
    except Exception:  # probes and scrapes answer even while the database is away
        log.warning("database gauges unavailable")
        return False
    return True


@router.get("/healthz", response_model=Health, summary="The process is serving")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A check failed; `checks` names it."}},
    summary="The database answers and the KEK can wrap and unwrap",
    description="The KEK check is a round trip at the KEK provider; a passed check is reused "
    "for 5 s, a failed one for 1 s. Probes that arrive together share one database check.",
)
async def readyz(state: StateDep) -> Any:
    checks = {"database": "ok", "kek": "ok"}
    try:
        # Probes that arrive together share one check (and one refresh of the gauges): a
        # flood of them must not take every connection of the pool the vault's writes need.
        database_ok = await state.database_probe.run(READINESS, lambda: _database_ready(state))
    except ShuttingDown:  # the vault is stopping
        database_ok = False
    if not database_ok:
        checks["database"] = "failed"
    if not await state.kek_probe.healthy(state.envelope):
        checks["kek"] = "failed"
    ready = all(v == "ok" for v in checks.values())
    details = {"data_keys_on_old_keks": state.metrics.backlog()} if database_ok else {}
    body = Readiness(status="ok" if ready else "unavailable", checks=checks, details=details)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _database_ready(state: ProbeState) -> bool:
    try:
        await database_answers(state.engine)
    except Exception:  # any failure at all means "not ready"; the probe never raises
        return False
    await _refresh_gauges(state)
    return True
