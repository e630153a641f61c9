"""Assembles the simulator: one :class:`SimulatorState`, the Walmart routes, the control routes.

``create_app()`` returns the outer ASGI callable (fault injection + request log around a
plain Starlette app). Each call builds a fresh, independent simulator; nothing is shared
between instances, so several can run side by side in one test process.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import errors
from .consent import ConsentPage
from .control_api import ControlApi
from .gateway import ALL_METHODS
from .middleware import SimulatorMiddleware
from .signed_api import SignedApi
from .state import SimulatorState
from .walmart_api import WalmartApi


async def _not_found(request: Request) -> Response:
    # Walmart-shaped rather than Starlette's plain-text 404, so a vault that builds a wrong
    # path sees the kind of body it would get from the real gateway.
    return errors.walmart_error(
        404, "NOT_FOUND", "REQUEST_URI", "Not Found", f"No API at {request.url.path}"
    )


def create_app(state: SimulatorState | None = None) -> SimulatorMiddleware:
    state = state if state is not None else SimulatorState()
    routes = [
        *ControlApi(state).routes(),
        *ConsentPage(state).routes(),
        *SignedApi(state).routes(),  # /v3/ca/... before WalmartApi's /v3/ catch-all
        *WalmartApi(state).routes(),
        Route("/{rest:path}", _not_found, methods=ALL_METHODS),
    ]
    return SimulatorMiddleware(Starlette(routes=routes), state)
