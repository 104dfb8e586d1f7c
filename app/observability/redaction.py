"""Secrets out of URLs before they are exported: query parameters named like a secret, userinfo.

Clients authenticate to Azure Functions with ``?code=<function key>``; OpenTelemetry's own
``redact_url`` only knows a few cloud signature names, so the key reached Application
Insights verbatim. ``redact_span_urls`` rewrites a span's URL attributes while it is still
live (as the server request hook, and for every span as it starts), before any exporter or
live-metrics processor reads them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

REDACTED = "REDACTED"
# A parameter is secret when its (decoded, lower-cased) name contains any of these.
_SECRET_NAME = re.compile(
    r"code|sig|token|key|pass|pwd|secret|auth|credential|session|sas|jwt", re.IGNORECASE
)
# Span attributes that hold a whole URL, and those that hold only a query string.
URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
QUERY_ATTRIBUTES = ("url.query",)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(unquote_plus(name)))


def redact_query(query: str) -> str:
    """Replace the value of every secret-named parameter; everything else is kept as is."""
    if not query:
        return query
    pieces = []
    for piece in query.split("&"):
        name, sep, _value = piece.partition("=")
        pieces.append(f"{name}{sep}{REDACTED}" if sep and is_secret_name(name) else piece)
    return "&".join(pieces)


def redact_url(url: str) -> str:
    """``url`` with secret query values and any ``user:password@`` replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL we can parse: export nothing of it
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = redact_query(parts.query)
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_span_urls(span: trace.Span, _scope: Any = None) -> None:
    """Rewrite a live span's URL attributes; also the FastAPI ``server_request_hook``, which
    is handed the API's span type: only a recording (SDK) span has attributes to rewrite."""
    if not isinstance(span, ReadableSpan):
        return
    attributes: Any = span.attributes or {}
    for key in URL_ATTRIBUTES + QUERY_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            redacted = redact_query(value) if key in QUERY_ATTRIBUTES else redact_url(value)
            if redacted != value:
                span.set_attribute(key, redacted)


class RedactingSpanProcessor(SpanProcessor):
    """Redacts URL attributes as any span starts (client spans set them at creation).

    The ASGI instrumentation sets its attributes again right after the server span
    starts, so server spans are redacted by ``redact_span_urls`` as its request hook."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        redact_span_urls(span)

    def on_end(self, span: ReadableSpan) -> None:
        return None
