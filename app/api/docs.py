"""Interactive API docs (`/docs`, `/redoc`) with every asset served by this app.

FastAPI's default pages load swagger-ui from a public CDN (a floating major version, no
integrity check). Here swagger-ui and ReDoc come from the pinned PyPI package
``fastapi-offline`` (requirements.txt), served under ``/docs/static``, so the pages work
offline and load nothing from anywhere else: swagger-ui's online validator badge is off.

In Azure every route needs a function key, and a browser can only send it as ``?code=``;
a well-formed ``code`` on the page's URL is carried to the assets and ``/openapi.json``.
"""

from __future__ import annotations

import re
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

STATIC_PREFIX = "/docs/static"
# Function keys are base64url-like; anything else is not carried over (nor echoed).
_FUNCTION_KEY = re.compile(r"[A-Za-z0-9_=\-]{1,256}")
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _url(path: str, request: Request) -> str:
    code = request.query_params.get("code")
    return f"{path}?code={code}" if code and _FUNCTION_KEY.fullmatch(code) else path


def install(app: FastAPI) -> None:
    """Serve the docs pages and their assets (the app is built with docs_url=None)."""
    static = files("fastapi_offline") / "static"
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(static)), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=_url(openapi_url, request),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_url(f"{STATIC_PREFIX}/swagger-ui-bundle.js", request),
            swagger_css_url=_url(f"{STATIC_PREFIX}/swagger-ui.css", request),
            swagger_favicon_url=_url(f"{STATIC_PREFIX}/favicon.png", request),
            oauth2_redirect_url=None,
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
        page.headers.update(_HEADERS)
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=_url(openapi_url, request),
            title=f"{app.title} - ReDoc",
            redoc_js_url=_url(f"{STATIC_PREFIX}/redoc.standalone.js", request),
            redoc_favicon_url=_url(f"{STATIC_PREFIX}/favicon.png", request),
            with_google_fonts=False,
        )
        page.headers.update(_HEADERS)
        return page
