"""The real app (``create_app``) over fake models, in-process: the builders, the in-process
Functions shim and the error-shape check that the route tests share. No server, no network:
the registry address is a discard port, so a route that did call the registry would fail."""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import azure.functions as func

from app.errors import ERROR_SCHEMA, MLFLOW_PATH
from app.input_schema import InputSchema
from app.main import create_app
from app.model_loading.types import LoadedModel
from app.model_manager import ModelManager
from benchmarks.inproc import FunctionContext
from tests.unit.fakes import FakeSource, fake_model, fake_settings

with warnings.catch_warnings():  # starlette 1.x asks for httpx2, which is not in the lock
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

UNREACHABLE_REGISTRY = "http://127.0.0.1:9"
MAX_BODY_BYTES = 4096  # small limits, so the 413 cases stay small
MAX_BATCH_ROWS = 5
CANARY = "zz-canary-5e1d"  # a request value that must never come back in a response

# The scoring model: two typed columns and a param. Its prediction, (10·x + n)·scale, shows
# whether every column arrived, under its own name, with its value, and whether params did.
SCHEMA = InputSchema.from_dict([{"name": "x", "type": "double"}, {"name": "n", "type": "long"}])
SIGNATURE = {
    "inputs": SCHEMA.to_dict(),
    "outputs": None,
    "params": [{"name": "scale", "type": "double", "default": 1.0, "shape": None}],
}
ROWS = [{"x": 1.5, "n": 2}, {"x": -1.0, "n": 7}]
SCORES = [17.0, -3.0]


def score(frame: Any, params: dict[str, Any] | None) -> list[float]:
    scale = (params or {}).get("scale", 1.0)
    return ((frame["x"] * 10 + frame["n"]) * scale).tolist()


def scoring_model(version: str) -> LoadedModel:
    return fake_model(version, predict=score, schema=SCHEMA, signature=SIGNATURE)


def app_settings(**overrides: Any) -> Any:
    """Settings pinned against the environment: no keys, no telemetry, no prediction log."""
    return fake_settings(
        **(
            {
                "mlflow_tracking_uri": UNREACHABLE_REGISTRY,
                "max_body_bytes": MAX_BODY_BYTES,
                "max_batch_rows": MAX_BATCH_ROWS,
                "admin_api_key": None,
                "webhook_secret": None,
                "appinsights_connection_string": None,
                "prediction_log_enabled": False,
                "cors_allow_origins": [],
            }
            | overrides
        )
    )


@contextmanager
def managed_app(source: FakeSource | None = None, **settings: Any) -> Iterator[Any]:
    """``create_app(settings, ModelManager(settings, source))``; the manager closed after."""
    resolved = app_settings(**settings)
    manager = ModelManager(resolved, source=source or FakeSource(model=scoring_model))
    try:
        yield create_app(resolved, manager)
    finally:
        manager.close()


@contextmanager
def served(source: FakeSource | None = None, **settings: Any) -> Iterator[TestClient]:
    """A TestClient on the app, lifespan run. It re-raises any exception that leaves the
    app, so every call through it also checks that none does."""
    with managed_app(source, **settings) as app, TestClient(app) as client:
        yield client


# --- the Azure Functions shim, in-process -----------------------------------------------------


class InProcessShim:
    """The app behind ``azure.functions.AsgiFunctionApp``: each call builds a real
    ``func.HttpRequest``, awaits the registered function on one event loop (as the worker
    does) and returns the real ``func.HttpResponse``. (``tests/support/shim.ShimClient``
    builds its app through ``function_app.build``, which cannot take a fake source.)"""

    def __init__(self, fastapi_app: Any) -> None:
        self.function_app = func.AsgiFunctionApp(app=fastapi_app, http_auth_level=func.AuthLevel.ANONYMOUS)
        (function,) = self.function_app.get_functions()
        self._function = function.get_user_function()
        self._runner = asyncio.Runner()

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> func.HttpResponse:
        request = func.HttpRequest(
            method=method, url=f"http://localhost:7071{path}", headers=headers or {}, body=body
        )
        return self._runner.run(self._function(request, FunctionContext(uuid.uuid4().hex)))

    def close(self) -> None:
        if self.function_app.startup_task_done:  # else AsgiFunctionApp.__del__ would run it
            self._runner.run(self.function_app.middleware.notify_shutdown())
            self.function_app.startup_task_done = False
        self._runner.close()


@contextmanager
def shimmed(source: FakeSource | None = None, **settings: Any) -> Iterator[InProcessShim]:
    with managed_app(source, **settings) as app:
        shim = InProcessShim(app)
        try:
            yield shim
        finally:
            shim.close()


# --- the error shape ----------------------------------------------------------------------------


def check_error(status: int, raw: bytes, path: str, expected: tuple[Any, ...]) -> dict[str, Any]:
    """An error answer has ``expected`` = (status, error, field[, MLflow error_code]) and the
    documented shape (``app.errors.ERROR_SCHEMA``): ``error`` and ``message`` non-empty
    strings, ``field`` a string when present, MLflow's ``error_code`` first on /invocations
    and nowhere else; never a traceback, never the canary value of the request."""
    want_status, error, field, *mlflow_code = expected
    assert status == want_status, raw
    assert b"Traceback" not in raw and CANARY.encode() not in raw, raw
    body = json.loads(raw)
    assert all(isinstance(body[key], str) and body[key] for key in ERROR_SCHEMA["required"])
    assert all(isinstance(body[key], str) for key in ERROR_SCHEMA["properties"] if key in body)
    assert body["error"] == error, body
    assert body.get("field") == field, body
    if path == MLFLOW_PATH:
        assert next(iter(body)) == "error_code" and [body["error_code"]] == mlflow_code, body
    else:
        assert "error_code" not in body, body
    return body


def assert_error(response: Any, *expected: Any) -> dict[str, Any]:
    """``check_error`` for a TestClient response."""
    return check_error(response.status_code, response.content, response.request.url.path, expected)
