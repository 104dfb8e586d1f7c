"""Pure-ASGI middleware: request ids and a body-size limit enforced before the body is read."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import MLFLOW_PATH, ErrorCode
from app.json_response import dumps
from app.logging_setup import invocation_id_var, request_id_var

access_log = logging.getLogger("app.access")
log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413.

    A declared Content-Length over the limit is refused without reading a byte; a
    chunked body is read only until it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(
                    send,
                    400,
                    {
                        "error": "invalid_request",
                        "message": "Content-Length is not a number.",
                        "field": "content-length",
                    },
                )
                return
            if int(declared) > self.max_bytes:
                await self._too_large(scope, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client left mid-body: there is no one to answer and nothing to score.
                log.info("client disconnected before the request body arrived: %s", scope.get("path"))
                return
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        mlflow_style = (
            {"error_code": ErrorCode.PAYLOAD_TOO_LARGE.mlflow_code}
            if scope.get("path") == MLFLOW_PATH
            else {}
        )
        await _send_json(
            send,
            413,
            {
                **mlflow_style,
                "error": "payload_too_large",
                "message": f"The body is larger than {self.max_bytes} bytes.",
                "field": "body",
            },
        )


class RequestIdMiddleware:
    """Give every request an id (``x-request-id`` in, or a new one) and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        # Reflected only when it is a plain token: never markup or log-forging text.
        request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})
        if scope["state"] is None:
            scope["state"] = {}
        scope["state"]["request_id"] = request_id
        request_token = request_id_var.set(request_id)
        invocation = scope.get("azure_functions.invocation_id")
        invocation_token = invocation_id_var.set(str(invocation) if invocation else None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            extra = {
                "method": scope.get("method"),
                "route": route,
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            model = scope["state"].get("model")
            if model:
                extra.update(
                    model_name=model["name"], model_version=model["version"], model_source=model["source"]
                )
            access_log.info("%s %s %s", extra["method"], route, status, extra=extra)
            request_id_var.reset(request_token)
            invocation_id_var.reset(invocation_token)


def _header(scope: Scope, name: bytes) -> str | None:
    key: bytes
    value: bytes
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None
