"""/docs and /redoc load nothing from outside the app (security review F15).

FastAPI's default pages loaded swagger-ui from cdn.jsdelivr.net (floating major version,
no integrity check), so the docs needed the internet and trusted a CDN.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'|spec-url=["']([^"']+)["']""")
_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


def _references(html: str) -> list[str]:
    return [next(g for g in match.groups() if g) for match in _REFERENCE.finditer(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_the_app(
    page: str, champion: dict[str, Any], settings_factory: Any, shim_factory: Any
) -> None:
    shim = shim_factory(settings_factory())
    response = shim.get(page)
    assert response.status_code == 200
    html = response.body.decode()
    assert "http://" not in html and "https://" not in html, "an absolute URL in the page"
    references = _references(html)
    assert len(references) >= 3, references  # script, stylesheet/openapi, favicon
    for reference in references:
        parts = urlsplit(reference)
        assert not parts.scheme and not parts.netloc and reference.startswith("/"), reference
        asset = shim.get(reference)
        assert asset.status_code == 200, (reference, asset)
        suffix = "." + parts.path.rsplit(".", 1)[-1]
        assert _TYPES[suffix] in asset.headers["content-type"], (reference, asset.headers)
        assert len(asset.body) > 0
    if page == "/docs":
        assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io


def test_a_function_key_on_the_page_reaches_its_assets(
    champion: dict[str, Any], settings_factory: Any, shim_factory: Any
) -> None:
    """In Azure a browser can send the key only as ?code=; the page's own requests need it."""
    shim = shim_factory(settings_factory())
    html = shim.get("/docs?code=Ab3_-key==").body.decode()
    assert all(ref.endswith("?code=Ab3_-key==") for ref in _references(html))
    hostile = shim.get("/docs?code=%3C%2Fscript%3E%3Cscript%3Ealert(1)").body.decode()
    assert "alert(1)" not in hostile and "?code=" not in hostile
