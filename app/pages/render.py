"""Rendering a seller page with the headers every such page must carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

PAGES_DIR = Path(__file__).parent
STATIC_PATH = "/pages-static"

# Nothing but the vault's own stylesheet and images; no script at all; forms post only to the
# vault; no page may be framed (clickjacking a key form) or change its base URL.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    # The URL of a hand-over form carries its one-time token: never send it elsewhere.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

templates = Jinja2Templates(directory=PAGES_DIR / "templates")


def static_files() -> StaticFiles:
    """The pages' stylesheet and images, mounted at :data:`STATIC_PATH`."""
    return StaticFiles(directory=PAGES_DIR / "static")


def render_page(
    request: Request, template: str, context: Mapping[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """``template`` (under ``templates/``) rendered with ``context``, with the page headers."""
    response = templates.TemplateResponse(request, template, dict(context), status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


def render_message(
    request: Request,
    *,
    title: str,
    paragraphs: Sequence[str],
    status_code: int = 200,
    outcome: str = "info",
) -> HTMLResponse:
    """A page that says one thing: what happened and what to do next, in plain words.

    ``outcome`` is ``success``, ``problem`` or ``info``: it picks the page's colour and is
    exposed as ``data-outcome`` for tests.
    """
    context = {"title": title, "paragraphs": list(paragraphs), "outcome": outcome}
    return render_page(request, "message.html", context, status_code=status_code)


def render_too_many(request: Request, retry_after: int) -> HTMLResponse:
    """The 429 page of the public pages' rate limits, with its ``Retry-After``."""
    page = render_message(
        request,
        title="Too many attempts",
        paragraphs=[f"Please wait {retry_after} seconds, then try again. Nothing was saved."],
        status_code=429,
        outcome="problem",
    )
    page.headers["Retry-After"] = str(retry_after)
    return page
