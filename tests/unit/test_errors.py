"""The error vocabulary (``app.errors``): each domain code's HTTP status, our ``error`` and
MLflow's ``error_code``, and the handlers that give every failure the one documented shape,
``{"error", "message", "field"?}`` with ``error_code`` first on /invocations."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Query

from app.errors import (
    ApiError,
    ErrorCode,
    InvalidInput,
    ModelUnavailable,
    PayloadTooLarge,
    SchemaMismatch,
    UnsupportedMediaType,
    error_response,
    install_error_handlers,
    mlflow_error_code,
    quoted,
)
from tests.unit.serving import TestClient, assert_error, check_error

# README (HTTP API, /invocations): BAD_REQUEST for a body that does not parse and for a model
# that raises, INVALID_PARAMETER_VALUE for input or params the signature refuses.
VOCABULARY = {
    ErrorCode.MALFORMED_REQUEST: (400, "invalid_input", "BAD_REQUEST"),
    ErrorCode.SCHEMA_MISMATCH: (400, "invalid_input", "INVALID_PARAMETER_VALUE"),
    ErrorCode.INVALID_PARAMS: (400, "invalid_input", "INVALID_PARAMETER_VALUE"),
    ErrorCode.MODEL_REFUSED: (400, "invalid_input", "BAD_REQUEST"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "payload_too_large", "BAD_REQUEST"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "unsupported_media_type", "BAD_REQUEST"),
    ErrorCode.MODEL_UNAVAILABLE: (503, "model_unavailable", "TEMPORARILY_UNAVAILABLE"),
    ErrorCode.INTERNAL: (500, "internal_error", "INTERNAL_ERROR"),
}


def test_the_vocabulary_covers_every_code() -> None:
    assert set(VOCABULARY) == set(ErrorCode)


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda code: code.name)
def test_each_code_answers_its_status_error_and_mlflow_code(code: ErrorCode) -> None:
    status, error, mlflow_code = VOCABULARY[code]
    assert (code.status, code.error, code.mlflow_code) == (status, error, mlflow_code)
    exc = ApiError.of(code, "What is wrong.", field="age")
    for path, mlflow_style in (("/predict", False), ("/invocations", True)):
        response = error_response(exc, mlflow_style=mlflow_style)
        expected = (status, error, "age", mlflow_code) if mlflow_style else (status, error, "age")
        body = check_error(response.status_code, response.body, path, expected)
        assert body["message"] == "What is wrong."
        assert ("retry-after" in response.headers) == (status == 503)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (InvalidInput("bad", field="x"), (400, "invalid_input", "x", ErrorCode.MALFORMED_REQUEST)),
        (
            InvalidInput("bad", field="params", code=ErrorCode.INVALID_PARAMS),
            (400, "invalid_input", "params", ErrorCode.INVALID_PARAMS),
        ),
        (SchemaMismatch("bad", field="x"), (400, "invalid_input", "x", ErrorCode.SCHEMA_MISMATCH)),
        (
            PayloadTooLarge("big", field="body"),
            (413, "payload_too_large", "body", ErrorCode.PAYLOAD_TOO_LARGE),
        ),
        (
            UnsupportedMediaType("no"),
            (415, "unsupported_media_type", "content-type", ErrorCode.UNSUPPORTED_MEDIA_TYPE),
        ),
        (
            ModelUnavailable("registry: refused"),
            (503, "model_unavailable", None, ErrorCode.MODEL_UNAVAILABLE),
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_each_error_class_carries_its_code_and_field(exc: ApiError, expected: tuple[Any, ...]) -> None:
    assert (exc.status_code, exc.error, exc.field, exc.code) == expected
    assert isinstance(exc, ApiError)


def test_extra_fields_follow_the_shape() -> None:
    body = InvalidInput("Column 'x' row 3: expected double.", field="x", row=3).body()
    assert body == {
        "error": "invalid_input",
        "message": "Column 'x' row 3: expected double.",
        "field": "x",
        "row": 3,
    }
    assert ModelUnavailable("registry: refused").body() == {
        "error": "model_unavailable",
        "message": "No model is loaded yet.",
        "reason": "registry: refused",
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, "BAD_REQUEST"),
        (404, "BAD_REQUEST"),
        (405, "BAD_REQUEST"),
        (413, "BAD_REQUEST"),
        (500, "INTERNAL_ERROR"),
        (502, "INTERNAL_ERROR"),
        (503, "TEMPORARILY_UNAVAILABLE"),
    ],
)
def test_mlflow_error_code_by_status_when_no_domain_code(status: int, expected: str) -> None:
    assert mlflow_error_code(status) == expected
    assert mlflow_error_code(status, ErrorCode.SCHEMA_MISMATCH) == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("age", "'age'"),
        ("it's", '"it\'s"'),
        ("n" * 65, repr("n" * 64 + "...")),
        (7, "'7'"),
    ],
    ids=["plain", "quote", "long", "not a string"],
)
def test_quoted_names_are_escaped_and_bounded(name: object, expected: str) -> None:
    assert quoted(name) == expected


# --- the handlers, on a bare app ----------------------------------------------------------------


def _bare_app() -> FastAPI:
    """Routes that fail every way a route can, on both kinds of path."""
    app = FastAPI()
    install_error_handlers(app)
    for path in ("/invocations", "/other"):

        @app.get(path)
        async def fail(how: str, limit: int = Query(default=1, ge=1)) -> Any:
            if how == "api":
                raise SchemaMismatch("Missing required column(s): 'n'.", field="n")
            if how == "http":
                raise HTTPException(409, "conflict")
            if how == "crash":
                raise RuntimeError("secret detail")
            return {"limit": limit}

        @app.post(path)
        async def json_body(body: dict[str, int]) -> Any:
            return body

    return app


@pytest.fixture(scope="module")
def bare() -> Any:
    with TestClient(_bare_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("path", ["/invocations", "/other"])
@pytest.mark.parametrize(
    ("request_args", "expected"),
    [
        (("GET", "?how=api"), (400, "invalid_input", "n", "INVALID_PARAMETER_VALUE")),
        (("GET", "?how=http"), (409, "http_error", None, "BAD_REQUEST")),
        (("GET", "?how=crash"), (500, "internal_error", None, "INTERNAL_ERROR")),
        (("DELETE", "?how=api"), (405, "method_not_allowed", None, "BAD_REQUEST")),
    ],
    ids=["ApiError", "HTTPException", "unhandled", "wrong method"],
)
def test_every_handler_answers_the_documented_shape(
    bare: TestClient, path: str, request_args: tuple[Any, ...], expected: tuple[Any, ...]
) -> None:
    method, suffix = request_args
    response = bare.request(method, path + suffix)
    assert_error(response, *(expected if path == "/invocations" else expected[:3]))
    assert "secret detail" not in response.text


def test_request_validation_is_422_naming_every_field(bare: TestClient) -> None:
    response = bare.post("/other", json={"a": "x", "b": "y"})
    body = assert_error(response, 422, "invalid_request", "a")
    assert [p["field"] for p in body["problems"]] == ["a", "b"]
    assert body["message"].startswith("a: Input should be a valid integer")
    query = assert_error(bare.get("/other?how=ok&limit=0"), 422, "invalid_request", "limit")
    assert query["problems"] == [{"field": "limit", "problem": query["message"][len("limit: ") :]}]
