"""The same app through the real Azure Functions ASGI shim, in-process: ``func.HttpRequest``
in, ``func.HttpResponse`` out, the lifespan run by the shim on the first invocation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.fakes import FakeSource, fake_model
from tests.unit.serving import (
    CANARY,
    MAX_BODY_BYTES,
    ROWS,
    SCORES,
    InProcessShim,
    check_error,
    shimmed,
)

JSON = {"content-type": "application/json"}
KEY = "k3y-for-tests"


@pytest.fixture(scope="module")
def shim() -> Any:
    with shimmed(admin_api_key=KEY) as in_process:
        yield in_process


def _json(response: Any) -> Any:
    return json.loads(response.get_body())


def test_predict_through_the_shim(shim: InProcessShim) -> None:
    response = shim.request(
        "POST", "/predict", json.dumps({"instances": ROWS}).encode(), {**JSON, "x-request-id": "shim-1"}
    )
    assert response.status_code == 200, response.get_body()
    body = _json(response)
    assert (body["predictions"], body["request_id"], body["model"]["version"]) == (SCORES, "shim-1", "1")
    assert response.headers["x-request-id"] == "shim-1"
    assert response.headers["x-model-version"] == "1"


def test_invocations_csv_through_the_shim(shim: InProcessShim) -> None:
    response = shim.request("POST", "/invocations", b"n,x\n2,1.5\n7,-1.0\n", {"content-type": "text/csv"})
    assert response.status_code == 200, response.get_body()
    assert _json(response) == {"predictions": SCORES}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "expected"),
    [
        (
            "POST",
            "/invocations",
            b'{"instances": [' + CANARY.encode(),
            JSON,
            (400, "invalid_input", "body", "BAD_REQUEST"),
        ),
        (
            "POST",
            "/predict",
            json.dumps({"instances": ROWS, "pad": "x" * MAX_BODY_BYTES}).encode(),
            JSON,
            (413, "payload_too_large", "body"),
        ),
        (
            "POST",
            "/predict",
            b"{}",
            {"content-type": "text/plain"},
            (415, "unsupported_media_type", "content-type"),
        ),
        ("POST", "/model/reload", b"", {}, (401, "unauthorized", "x-admin-key")),
        ("GET", "/registry/models", b"", {"x-admin-key": "wrong"}, (403, "forbidden", "x-admin-key")),
    ],
    ids=["malformed json", "body over the limit", "content type", "no admin key", "wrong key"],
)
def test_errors_through_the_shim(
    shim: InProcessShim,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    expected: tuple[Any, ...],
) -> None:
    response = shim.request(method, path, body, headers)
    check_error(response.status_code, response.get_body(), path, expected)
    assert response.headers["x-request-id"]


def test_reload_with_the_key_through_the_shim(shim: InProcessShim) -> None:
    response = shim.request("POST", "/model/reload", headers={"x-admin-key": KEY})
    assert response.status_code == 200
    assert (_json(response)["status"], _json(response)["model"]["version"]) == ("reloaded", "1")


def test_no_model_through_the_shim_is_503_with_retry_after() -> None:
    with shimmed(FakeSource(fail=True), startup_wait_seconds=0.5) as shim:
        for path, method, expected in [
            ("/invocations", "POST", (503, "model_unavailable", None, "TEMPORARILY_UNAVAILABLE")),
            ("/ping", "GET", (503, "model_unavailable", None)),
        ]:
            response = shim.request(method, path, json.dumps({"instances": ROWS}).encode(), JSON)
            check_error(response.status_code, response.get_body(), path, expected)
            assert response.headers["retry-after"] == "5"
        health = shim.request("GET", "/health")
        assert (health.status_code, _json(health)["status"]) == (503, "unavailable")


def test_an_unhandled_error_is_a_json_500_not_a_failed_invocation() -> None:
    """An exception leaving the app would fail the invocation (and the worker would log a
    traceback): the shim gets a complete JSON 500 instead."""
    source = FakeSource(model=lambda v: fake_model(v, predict=lambda frame, _: [object()]))
    with shimmed(source) as shim:
        for path, expected in (
            ("/predict", (500, "internal_error", None)),
            ("/invocations", (500, "internal_error", None, "INTERNAL_ERROR")),
        ):
            response = shim.request("POST", path, json.dumps({"instances": ROWS}).encode(), JSON)
            body = check_error(response.status_code, response.get_body(), path, expected)
            assert body["message"] == "The server failed to handle the request."
        assert shim.request("GET", "/health").status_code == 200


def _exits(frame: Any, params: Any) -> Any:
    raise SystemExit(3)  # e.g. model code that calls sys.exit() or argparse


def test_a_model_that_raises_system_exit_gets_a_json_error() -> None:
    with shimmed(FakeSource(model=lambda v: fake_model(v, predict=_exits))) as shim:
        response = shim.request("POST", "/predict", json.dumps({"instances": ROWS}).encode(), JSON)
        check_error(response.status_code, response.get_body(), "/predict", (400, "invalid_input", "body"))
