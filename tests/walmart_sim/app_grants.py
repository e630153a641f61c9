"""``POST /v3/token`` for App Store apps: the ``authorization_code`` and ``refresh_token`` grants.

As reference/walmart-app-oauth.md describes them: Basic with the *app's* Client ID and
Secret, ``WM_PARTNER.ID`` naming the seller, ``WM_SVC.NAME`` and ``WM_QOS.CORRELATION_ID``,
a form body. A refused grant answers 400 (``refused_refresh_status`` can make a refused
refresh 401, Walmart's gateway style): the vault must treat both as "reconnect".
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import errors
from .app_store import GrantRefused
from .app_store_models import App
from .gateway import CORRELATION_ID, SVC_NAME, basic_credentials, header, require
from .models import RequestRecord
from .state import SimulatorState

APP_GRANTS = ("authorization_code", "refresh_token")
PARTNER_ID = "WM_PARTNER.ID"


def grant_type(body: bytes) -> str:
    return parse_qs(body.decode("utf-8", "replace")).get("grant_type", [""])[0]


def answer(state: SimulatorState, request: Request, body: bytes, record: RequestRecord) -> Response:
    """Synchronous on purpose: the body is read, so the state changes without interleaving."""
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    grant = form.get("grant_type", "")
    checked = _app_and_seller(state, request)
    if isinstance(checked, Response):
        record.auth_passed = False
        state.app_store.counters.count(grant, ok=False)
        return checked
    app, seller_id = checked
    record.principal = app.client_id
    store = state.app_store
    refresh: str | None
    try:
        if grant == "authorization_code":
            refresh, info = store.redeem_code(
                app,
                form.get("code", ""),
                seller_id=seller_id,
                redirect_uri=form.get("redirect_uri", ""),
            )
            pair_token: str | None = None  # a first refresh token is active at once
        else:
            refresh, info = store.refresh(app, form.get("refresh_token", ""), seller_id=seller_id)
            pair_token = refresh
    except GrantRefused as refused:
        record.auth_passed = False
        store.counters.count(grant, ok=False)
        status = store.settings.refused_refresh_status if grant == "refresh_token" else 400
        return _invalid_grant(status, str(refused))
    record.auth_passed = True
    store.counters.count(grant, ok=True)
    access, issued = state.issue_app_token(
        app, seller_id=seller_id, market=info.market, refresh_token=pair_token
    )
    body_out: dict[str, object] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": (issued.expire_at_ms - issued.issued_at_ms) // 1000,
    }
    if refresh is not None:
        body_out["refresh_token"] = refresh
        body_out["refresh_token_expires_in"] = store.settings.refresh_token_lifetime_seconds
    return JSONResponse(body_out)


def _app_and_seller(state: SimulatorState, request: Request) -> tuple[App, str] | Response:
    missing = require(request, SVC_NAME, CORRELATION_ID, PARTNER_ID)
    if missing is not None:
        return missing
    creds = basic_credentials(request.headers.get("authorization", ""))
    app = state.app_store.apps.get(creds[0]) if creds else None
    if creds is None or app is None:
        return errors.unauthorized("Unknown app or malformed Basic authorization")
    if not hmac.compare_digest(creds[1].encode(), app.client_secret.encode()):
        return errors.unauthorized("Invalid client credentials")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return errors.bad_request("Content-Type", "Expected application/x-www-form-urlencoded")
    return app, header(request, PARTNER_ID)


def _invalid_grant(status: int, info: str) -> JSONResponse:
    if status == 401:
        return errors.unauthorized(info)
    return errors.walmart_error(400, "INVALID_GRANT", "grant", "invalid_grant", info)
