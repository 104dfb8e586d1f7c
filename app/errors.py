"""One error shape for every route: ``{"error": code, "message": text, "field"?: name}``.

Messages name the field and the problem; they never echo request data or secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import Enum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.json_response import JSONResponse

log = logging.getLogger(__name__)
MLFLOW_PATH = "/invocations"  # the route whose errors carry MLflow's error_code


class ErrorCode(Enum):
    """The domain errors of the scoring routes. ``_MAPPING`` below is the one place that maps
    each to an HTTP status, our ``error`` code and MLflow's ``error_code`` (/invocations)."""

    MALFORMED_REQUEST = "malformed_request"  # not a request in a supported format
    SCHEMA_MISMATCH = "schema_mismatch"  # well-formed, but the model signature refuses it
    INVALID_PARAMS = "invalid_params"  # params the model's param schema refuses
    MODEL_REFUSED = "model_refused"  # the model itself raised on this input
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    MODEL_UNAVAILABLE = "model_unavailable"
    INTERNAL = "internal"

    @property
    def status(self) -> int:
        return _MAPPING[self][0]

    @property
    def error(self) -> str:
        return _MAPPING[self][1]

    @property
    def mlflow_code(self) -> str:
        return _MAPPING[self][2]


# code -> (HTTP status, our `error`, MLflow's `error_code`). MLflow answers BAD_REQUEST for
# bodies it cannot parse and for models that raise, INVALID_PARAMETER_VALUE for inputs and
# params its schema enforcement refuses.
_MAPPING: dict[ErrorCode, tuple[int, str, str]] = {
    ErrorCode.MALFORMED_REQUEST: (400, "invalid_input", "BAD_REQUEST"),
    ErrorCode.SCHEMA_MISMATCH: (400, "invalid_input", "INVALID_PARAMETER_VALUE"),
    ErrorCode.INVALID_PARAMS: (400, "invalid_input", "INVALID_PARAMETER_VALUE"),
    ErrorCode.MODEL_REFUSED: (400, "invalid_input", "BAD_REQUEST"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "payload_too_large", "BAD_REQUEST"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "unsupported_media_type", "BAD_REQUEST"),
    ErrorCode.MODEL_UNAVAILABLE: (503, "model_unavailable", "TEMPORARILY_UNAVAILABLE"),
    ErrorCode.INTERNAL: (500, "internal_error", "INTERNAL_ERROR"),
}


def mlflow_error_code(status: int, code: ErrorCode | None = None) -> str:
    """MLflow's ``error_code`` for an answer: the code's own, else by HTTP status."""
    if code is not None:
        return code.mlflow_code
    if status == 503:
        return "TEMPORARILY_UNAVAILABLE"
    return "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST"


def quoted(name: object, limit: int = 64) -> str:
    """A request-supplied identifier (a column name) fit for a message: bounded and escaped."""
    text = str(name)
    return repr(text[:limit] + "...") if len(text) > limit else repr(text)


class ApiError(Exception):
    """An error that maps to an HTTP response with a stable machine-readable code."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        *,
        field: str | None = None,
        code: ErrorCode | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.message = message
        self.field = field
        self.code = code
        self.extra = extra

    @classmethod
    def of(cls, code: ErrorCode, message: str, *, field: str | None = None, **extra: Any) -> ApiError:
        return cls(code.status, code.error, message, field=field, code=code, **extra)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.extra)
        return body


class InvalidInput(ApiError):
    """A request body the service cannot score (400)."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: ErrorCode = ErrorCode.MALFORMED_REQUEST,
        **extra: Any,
    ) -> None:
        super().__init__(code.status, code.error, message, field=field, code=code, **extra)


class SchemaMismatch(InvalidInput):
    """Well-formed input that the model signature (columns, types, params) refuses (400)."""

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message, field=field, code=ErrorCode.SCHEMA_MISMATCH, **extra)


class PayloadTooLarge(ApiError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        code = ErrorCode.PAYLOAD_TOO_LARGE
        super().__init__(code.status, code.error, message, field=field, code=code)


class UnsupportedMediaType(ApiError):
    def __init__(self, message: str) -> None:
        code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
        super().__init__(code.status, code.error, message, field="content-type", code=code)


class ModelUnavailable(ApiError):
    def __init__(self, reason: str) -> None:
        code = ErrorCode.MODEL_UNAVAILABLE
        super().__init__(code.status, code.error, "No model is loaded yet.", code=code, reason=reason)


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
    503: "No model is loaded (`model_unavailable`), or the registry did not answer (`registry_unavailable`)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for error statuses, all with the shared error shape."""
    return {
        code: {
            "description": _DESCRIPTIONS.get(code, "Error"),
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for code in codes
    }


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def error_response(exc: ApiError, *, mlflow_style: bool = False) -> Response:
    body = exc.body()
    if mlflow_style:
        body = {"error_code": mlflow_error_code(exc.status_code, exc.code), **body}
    headers = {"Retry-After": "5"} if exc.status_code == 503 else None
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc, mlflow_style=request.url.path == MLFLOW_PATH)

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
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {
            400: "invalid_json",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
        }
        code = codes.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        body: dict[str, Any] = {"error": code, "message": detail}
        if exc.status_code == 400:  # FastAPI could not parse a JSON body
            body |= {"message": "The body is not valid JSON.", "field": "body"}
        return JSONResponse(
            _for(request, body, exc.status_code), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _: Exception) -> Response:
        # Starlette re-raises after this; app/asgi_guard.py logs it once (no traceback).
        # This handler runs in ServerErrorMiddleware, outside RequestIdMiddleware: echo the id
        # here, or the one answer an operator most needs to trace would carry none.
        body = {"error": "internal_error", "message": "The server failed to handle the request."}
        request_id = (request.scope.get("state") or {}).get("request_id")
        headers = {"x-request-id": request_id} if request_id else None
        return JSONResponse(_for(request, body, 500), status_code=500, headers=headers)


def _for(request: Request, body: dict[str, Any], status: int) -> dict[str, Any]:
    """MLflow's ``error_code`` first on /invocations, as its clients expect."""
    if request.url.path != MLFLOW_PATH:
        return body
    return {"error_code": mlflow_error_code(status), **body}
