"""One error shape for every route: ``{"error": code, "message": text, "field"?: name}``.

Messages name the field and the problem; they never echo request data or secrets.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.json_response import JSONResponse

log = logging.getLogger(__name__)

# MLflow scoring-server error codes, reused by /invocations so MLflow clients see the same.
MLFLOW_ERROR_CODES = {400: "BAD_REQUEST", 413: "BAD_REQUEST", 415: "BAD_REQUEST", 503: "INTERNAL_ERROR"}


class ApiError(Exception):
    """An error that maps to an HTTP response with a stable machine-readable code."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        *,
        field: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.message = message
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.extra)
        return body


class InvalidInput(ApiError):
    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(400, "invalid_input", message, field=field, **extra)


class PayloadTooLarge(ApiError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(413, "payload_too_large", message, field=field)


class ModelUnavailable(ApiError):
    def __init__(self, reason: str) -> None:
        super().__init__(503, "model_unavailable", "No model is loaded yet.", reason=reason)


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "Stable machine-readable code"},
        "message": {"type": "string", "description": "What is wrong; never echoes request data"},
        "field": {"type": "string", "description": "The field, column or header at fault"},
        "error_code": {"type": "string", "description": "MLflow-style code (/invocations)"},
    },
}
_DESCRIPTIONS = {
    400: "Invalid input; `field` names the column or field at fault",
    401: "The admin key is missing",
    403: "The admin key is wrong, or the management API is disabled",
    404: "Not found",
    409: "Refused: the quality gate failed, or there is nothing to roll back to",
    413: "Body or batch over the configured limit",
    415: "Unsupported content type",
    422: "The request does not match the declared parameters",
    502: "The MLflow registry answered with an error",
    503: "No model is loaded (`model_unavailable`), or the registry did not answer "
         "(`registry_unavailable`)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for error statuses, all with the shared error shape."""
    return {code: {"description": _DESCRIPTIONS.get(code, "Error"),
                   "content": {"application/json": {"schema": ERROR_SCHEMA}}}
            for code in codes}


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def error_response(exc: ApiError, *, mlflow_style: bool = False) -> Response:
    body = exc.body()
    if mlflow_style:
        body = {"error_code": MLFLOW_ERROR_CODES.get(exc.status_code, "BAD_REQUEST"), **body}
    headers = {"Retry-After": "5"} if exc.status_code == 503 else None
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc, mlflow_style=request.url.path == "/invocations")

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _: ClientDisconnect) -> Response:
        # Nobody is left to read an answer: note it, no error, no traceback.
        log.info("client disconnected before the request body arrived: %s", request.url.path)
        return Response(status_code=499)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
        field = _location(first.get("loc", ("body",)))
        problem = str(first.get("msg", "invalid value"))
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": f"{field}: {problem}",
                "field": field,
                "problems": [
                    {"field": _location(e.get("loc", ())), "problem": str(e.get("msg", ""))}
                    for e in errors[:20]
                ],
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        codes = {400: "invalid_json", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        body: dict[str, Any] = {"error": code, "message": detail}
        if exc.status_code == 400:  # FastAPI could not parse a JSON body
            body |= {"message": "The body is not valid JSON.", "field": "body"}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, __: Exception) -> Response:
        # Starlette re-raises after this; app/asgi_guard.py logs it once (no traceback).
        return JSONResponse(
            {"error": "internal_error", "message": "The server failed to handle the request."},
            status_code=500,
        )
