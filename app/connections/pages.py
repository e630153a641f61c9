"""The public callback page Walmart sends the seller's browser to (no API token: the
single-use ``state`` is the only credential it accepts)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.connections.apps import CALLBACK_PATH
from app.connections.callback import CallbackParams
from app.connections.deps import StateDep
from app.connections.endings import CallbackResult
from app.connections.outcomes import PAGES
from app.pages.render import PAGE_HEADERS, render_message, render_too_many
from app.pages.throttle import client_address

router = APIRouter(tags=["seller pages"])
Param = Annotated[str | None, Query(max_length=4096)]


@router.get(
    CALLBACK_PATH,
    response_class=HTMLResponse,
    summary="Walmart's App Store callback: completes a seller's connection (public page)",
    description="Walmart redirects the seller's browser here after the consent page. The "
    "answer is a small HTML page saying what happened and what to do next (200 connected; "
    "403 declined; 400 unknown state, another app's client id or an incomplete callback; "
    "409 link already used; 410 link expired; 429 too many unknown or used states from the "
    "address; 502 code refused or live check failed; 503 "
    "Walmart unreachable), or a 303 to the link's `return_url`.",
    responses={
        303: {"description": "Redirect to the connection's allowed return_url."},
        400: {"description": "Unknown state, wrong client id, or incomplete callback."},
        403: {"description": "The seller declined."},
        409: {"description": "The link was already used."},
        410: {"description": "The link expired."},
        429: {"description": "Too many unknown or used states from this address (Retry-After)."},
        502: {"description": "Walmart refused the code, or the new token failed its check."},
        503: {"description": "Walmart could not be reached."},
    },
)
async def walmart_callback(
    request: Request,
    state: StateDep,
    code: Param = None,
    state_: Annotated[str | None, Query(alias="state", max_length=4096)] = None,
    client_id: Annotated[str | None, Query(alias="clientId", max_length=256)] = None,
    seller_id: Annotated[str | None, Query(alias="sellerId", max_length=64)] = None,
    error: Param = None,
) -> Response:
    params = CallbackParams(
        code=code, state=state_, client_id=client_id, seller_id=seller_id, error=error
    )
    result = await state.callback.handle(
        params, request_id=request.state.request_id, address=client_address(request)
    )
    if result.outcome == "rate_limited":
        return render_too_many(request, result.retry_after_seconds)
    target = _return_to(result)
    if target is not None:
        return RedirectResponse(target, status_code=303, headers=dict(PAGE_HEADERS))
    page = PAGES[result.outcome]
    return render_message(
        request,
        title=page.title,
        paragraphs=page.paragraphs,
        status_code=page.status_code,
        outcome="success" if result.outcome == "connected" else "problem",
    )


def _return_to(result: CallbackResult) -> str | None:
    connection = result.connection
    if connection is None or connection.return_url is None or result.outcome == "state_used":
        return None
    query = {"connection_id": str(connection.id), "status": connection.status}
    if result.outcome != "connected":
        query["error"] = result.outcome
    separator = "&" if "?" in connection.return_url else "?"
    return f"{connection.return_url}{separator}{urlencode(query)}"
