"""Walmart's App Store consent page, as a seller's browser sees it.

``GET /consent`` takes the query the provider's consent link carries (``responseType=code``,
``clientId``, ``redirectUri``, ``clientType``, ``nonce``, ``state``) and answers a real HTML
page, "signed in" as the seller named by the ``consent_seller_id`` setting, with an
**Authorize** and a **Decline** button. The form posts back to ``/consent``; the answer is a
302 to the app's Auth Callback URL, as Walmart redirects: ``code``, ``type=auth``,
``clientId``, ``state`` and ``sellerId`` on Authorize, ``error=access_denied`` and ``state``
on Decline (Walmart does not document its decline redirect; this is OAuth's).

A request Walmart would refuse (unknown app, a redirect URI not registered with it, a wrong
``responseType`` or ``clientType``, a reused ``nonce``) gets a 400 page and no redirect.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .app_store_models import CLIENT_TYPE_MARKETS
from .state import SimulatorState

FIELDS = ("clientId", "redirectUri", "clientType", "nonce", "state")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main>
<h1>{title}</h1>
{content}
</main></body></html>"""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), content=content), status)


class ConsentPage:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/consent", self.show, methods=["GET"]),
            Route("/consent", self.decide, methods=["POST"]),
        ]

    async def show(self, request: Request) -> Response:
        params = {name: request.query_params.get(name, "") for name in FIELDS}
        if request.query_params.get("responseType") != "code":
            return self._refused("responseType must be code")
        problem = self._problem(params)
        if problem is not None:
            return self._refused(problem)
        seller = self.state.app_store.settings.consent_seller_id
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{escape(value)}">'
            for name, value in params.items()
        )
        content = (
            f"<p>Signed in to Seller Center as seller <strong>{escape(seller)}</strong>.</p>"
            f"<p>The app <strong>{escape(params['clientId'])}</strong> asks to access your "
            "Walmart Marketplace account.</p>"
            f'<form method="post" action="/consent">{hidden}'
            '<button type="submit" name="decision" value="authorize">Authorize</button> '
            '<button type="submit" name="decision" value="decline">Decline</button>'
            "</form>"
        )
        return _page("Authorize app", content)

    async def decide(self, request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        params = {name: form.get(name, "") for name in FIELDS}
        problem = self._problem(params)
        if problem is not None:
            return self._refused(problem)
        store = self.state.app_store
        target = params["redirectUri"]
        separator = "&" if "?" in target else "?"
        if form.get("decision") != "authorize":
            store.used_nonces.add(params["nonce"])
            query = {"error": "access_denied", "state": params["state"]}
            return RedirectResponse(f"{target}{separator}{urlencode(query)}", 302)
        seller = store.settings.consent_seller_id
        code = store.issue_code(
            store.apps[params["clientId"]],
            seller_id=seller,
            redirect_uri=target,
            market=CLIENT_TYPE_MARKETS[params["clientType"]],
            nonce=params["nonce"],
        )
        query = {
            "code": code,
            "type": "auth",
            "clientId": params["clientId"],
            "state": params["state"],
            "sellerId": seller,
        }
        return RedirectResponse(f"{target}{separator}{urlencode(query)}", 302)

    def _problem(self, params: dict[str, str]) -> str | None:
        app = self.state.app_store.apps.get(params["clientId"])
        if app is None:
            return "unknown clientId"
        if params["redirectUri"] not in app.redirect_uris:
            return "redirectUri is not registered for this app"
        if params["clientType"] not in CLIENT_TYPE_MARKETS:
            return "clientType must be seller, seller-ca or seller-mx"
        if not params["nonce"].isalnum():
            return "nonce must be alphanumeric"
        if params["nonce"] in self.state.app_store.used_nonces:
            return "nonce already used"
        if not params["state"]:
            return "state is missing"
        return None

    def _refused(self, problem: str) -> HTMLResponse:
        return _page(
            "Cannot authorize", f"<p>This request cannot be authorized: {escape(problem)}.</p>", 400
        )
