"""The outermost guard: no exception ever leaves the ASGI app.

Starlette's ``ServerErrorMiddleware`` answers 500 through the app's handler and then
re-raises, so under the Functions ASGI shim every unhandled exception also failed the
invocation and was logged with a full traceback by the worker. This guard sits outside that
middleware: it finishes the response (a JSON 500 when nothing was sent yet) and logs one
line naming the exception type and where it was raised, never request data, the exception
message (which may quote input) or a traceback.
"""

from __future__ import annotations

import logging
import traceback

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.json_response import dumps

log = logging.getLogger(__name__)

INTERNAL_ERROR = {"error": "internal_error", "message": "The server failed to handle the request."}


def _origin(exc: BaseException) -> str:
    """``module.py:line in function`` of the innermost frame (no message, no locals)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown location"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"


async def run_guarded(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app``; an exception ends in a complete 500 response and one log line."""
    if scope["type"] != "http":
        await app(scope, receive, send)
        return
    started = finished = False

    async def tracking_send(message: Message) -> None:
        nonlocal started, finished
        if message["type"] == "http.response.start":
            started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            finished = True
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except Exception as exc:  # noqa: BLE001 - this is the last line of defence
        route = getattr(scope.get("route"), "path", None) or "unmatched route"
        log.error(
            "unhandled %s on %s %s (raised at %s); answered 500",
            type(exc).__name__,
            scope.get("method", ""),
            route,
            _origin(exc),
        )
        try:
            await _finish(send, started=started, finished=finished)
        except Exception as send_exc:  # noqa: BLE001 - the client or the host is gone
            log.warning("could not send the 500 response: %s", type(send_exc).__name__)


async def _finish(send: Send, *, started: bool, finished: bool) -> None:
    if finished:
        return
    if started:  # headers are out: close the body so the host gets a complete response
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    payload = dumps(INTERNAL_ERROR)
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})


class ExceptionGuard:
    """Pure-ASGI wrapper around any ASGI app (see ``run_guarded``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await run_guarded(self.app, scope, receive, send)


class GuardedFastAPI(FastAPI):
    """FastAPI whose every HTTP call runs inside the guard, outside all its middleware.

    Wrapping ``__call__`` (rather than ``build_middleware_stack``) keeps the stack exactly
    as Starlette builds it, which the OpenTelemetry FastAPI instrumentation relies on."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await run_guarded(super().__call__, scope, receive, send)
