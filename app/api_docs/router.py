"""``GET /docs``: Swagger UI from the vault's own files, under a strict Content Security Policy."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

HERE = Path(__file__).parent
ASSETS_PATH = "/docs-assets"
# The packaged Swagger UI release: swagger-ui-bundle.js, swagger-ui.css, favicon-32x32.png.
SWAGGER_UI_DIR = Path(str(files("fastapi_swagger") / "resources"))

# Scripts and styles of the vault only (Swagger UI sets element styles from script, which a
# policy does not govern, so no 'unsafe-inline'); images may be the data: URIs of Swagger UI's
# icons; "Try it out" calls the vault itself. Nothing may frame the page, post a form from it
# or change its base URL.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Admins paste tokens into this page: it is never cached, framed or sniffed.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    context = {
        "title": f"{request.app.title} - API",
        "assets": root + ASSETS_PATH,
        "openapi_url": root + (request.app.openapi_url or "/openapi.json"),
    }
    response = templates.TemplateResponse(request, "swagger.html", context)
    response.headers.update(DOCS_HEADERS)
    return response


def install(app: FastAPI) -> None:
    """The docs page and its files (create the app with ``docs_url=None, redoc_url=None``)."""
    app.include_router(router)
    app.mount(f"{ASSETS_PATH}/swagger-ui", StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")
    app.mount(f"{ASSETS_PATH}/vault", StaticFiles(directory=HERE / "static"), name="docs-vault")
