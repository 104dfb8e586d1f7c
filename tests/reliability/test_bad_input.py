"""Bad input through the real Functions shim: always a 4xx naming the field, never a 500,
never the request's own data echoed back, and the process stays healthy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.lifecycle.training import FEATURES
from tests.support.models import ROW, split

CANARY = "zz-canary-7f3a9c"  # a distinctive value that must never come back in a response
MAX_ROWS = 50


@pytest.fixture(scope="module")
def shim(champion: dict[str, Any], settings_factory: Any) -> Any:
    from tests.support.shim import ShimClient

    client = ShimClient(settings_factory(max_batch_rows=MAX_ROWS))
    yield client
    client.close()


def _nested(depth: int) -> str:
    return "[" * depth + "0.1" + "]" * depth


JSON = {"content-type": "application/json"}
CASES: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("malformed json", b'{"instances": [' + CANARY.encode(), JSON, 400, "body"),
    ("empty body", b"", JSON, 400, "body"),
    ("not an object", json.dumps([ROW]).encode(), JSON, 400, "body"),
    ("no format key", json.dumps({"rows": [ROW]}).encode(), JSON, 400, "body"),
    ("two format keys", json.dumps({"instances": [ROW], "inputs": [ROW]}).encode(), JSON, 400,
     "body"),
    ("unknown top-level field", json.dumps({"instances": [ROW], CANARY: 1}).encode(), JSON,
     400, "body"),
    ("wrong content type", json.dumps({"instances": [ROW]}).encode(),
     {"content-type": "text/plain"}, 415, "content-type"),
    ("form content type", b"a=1", {"content-type": "application/x-www-form-urlencoded"}, 415,
     "content-type"),
    ("non-utf8 charset", json.dumps({"instances": [ROW]}).encode(),
     {"content-type": "application/json; charset=latin-1"}, 415, "content-type"),
    ("empty batch", json.dumps({"instances": []}).encode(), JSON, 400, "instances"),
    ("empty records", json.dumps({"dataframe_records": []}).encode(), JSON, 400,
     "dataframe_records"),
    ("missing column", json.dumps({"instances": [{k: v for k, v in ROW.items() if k != "bmi"}]})
     .encode(), JSON, 400, "bmi"),
    ("extra column", json.dumps({"instances": [{**ROW, CANARY: 1.0}]}).encode(), JSON, 400,
     "columns"),
    ("ragged records", json.dumps({"instances": [ROW, {**ROW, "extra": 1}]}).encode(), JSON,
     400, "instances"),
    ("string in a number column", json.dumps({"instances": [{**ROW, "age": CANARY}]}).encode(),
     JSON, 400, "age"),
    ("object in a number column", json.dumps({"instances": [{**ROW, "age": {CANARY: 1}}]})
     .encode(), JSON, 400, "age"),
    ("null in a required column", json.dumps({"instances": [{**ROW, "age": None}]}).encode(),
     JSON, 400, "age"),
    ("bool column", json.dumps({"instances": [{**ROW, "age": True}]}).encode(), JSON, 400,
     "age"),
    ("bool among numbers", json.dumps({"instances": [ROW, {**ROW, "bmi": False}]}).encode(),
     JSON, 400, "bmi"),
    ("bool in a split batch", json.dumps({"dataframe_split": {
        "columns": list(ROW), "data": [list(ROW.values()), [True, *list(ROW.values())[1:]]]}})
     .encode(), JSON, 400, "age"),
    ("NaN literal", json.dumps({"instances": [{**ROW, "age": float("nan")}]}).encode(), JSON,
     400, "body"),
    ("Infinity literal", json.dumps({"instances": [{**ROW, "age": float("inf")}]}).encode(),
     JSON, 400, "body"),
    ("overflowing number", b'{"instances": [{"age": 1e999}]}', JSON, 400, "body"),
    ("deeply nested body", ('{"instances": ' + _nested(5000) + "}").encode(), JSON, 400, "body"),
    ("deeply nested value", ('{"instances": [{"age": ' + _nested(500) + "}]}").encode(), JSON,
     400, "age"),
    ("split width mismatch", json.dumps({"dataframe_split": {"columns": FEATURES,
                                                             "data": [[0.1]]}}).encode(),
     JSON, 400, "dataframe_split.data"),
    ("split columns not strings", json.dumps({"dataframe_split": {"columns": [1, 2],
                                                                  "data": []}}).encode(),
     JSON, 400, "dataframe_split.columns"),
    ("params not an object", json.dumps({"instances": [ROW], "params": [CANARY]}).encode(),
     JSON, 400, "params"),
    ("csv without header", b"0.1,0.2\n", {"content-type": "text/csv"}, 400, "body"),
    ("csv NaN", (",".join(FEATURES) + "\n" + ",".join(["nan"] * 10) + "\n").encode(),
     {"content-type": "text/csv"}, 400, "age"),
    ("csv inf", (",".join(FEATURES) + "\n" + ",".join(["inf"] * 10) + "\n").encode(),
     {"content-type": "text/csv"}, 400, "age"),
    ("too many rows", json.dumps({"instances": [ROW] * (MAX_ROWS + 1)}).encode(), JSON, 413,
     "instances"),
    ("too many csv rows", (",".join(FEATURES) + "\n" + (",".join(["0.1"] * 10) + "\n")
                           * (MAX_ROWS + 1)).encode(), {"content-type": "text/csv"}, 413, "body"),
]


@pytest.mark.parametrize("path", ["/predict", "/invocations"])
@pytest.mark.parametrize(("case", "body", "headers", "status", "field"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(shim: Any, path: str, case: str, body: bytes,
                                      headers: dict[str, str], status: int, field: str) -> None:
    response = shim.post(path, body=body, headers=headers)
    assert response.status_code == status, response
    error = response.json()
    assert error["field"] == field
    assert error["message"] and error["error"] in (
        "invalid_input", "unsupported_media_type", "payload_too_large")
    if path == "/invocations":
        assert error["error_code"] == "BAD_REQUEST"
    assert CANARY.encode() not in response.body
    assert b"Traceback" not in response.body


def test_ten_megabyte_string_is_refused_by_size(shim: Any) -> None:
    body = json.dumps({"instances": [{**ROW, "age": CANARY + "x" * 10_000_000}]}).encode()
    response = shim.post("/predict", body=body, headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_ten_megabyte_string_under_a_larger_limit_names_the_column(
        champion: dict[str, Any], settings_factory: Any, shim_factory: Any) -> None:
    big = shim_factory(settings_factory(max_body_bytes=32 * 1024 * 1024))
    body = json.dumps({"instances": [{**ROW, "age": CANARY + "x" * 10_000_000}]}).encode()
    response = big.post("/predict", body=body, headers=JSON)
    assert response.status_code == 400, response
    assert response.json()["field"] == "age"
    assert CANARY.encode() not in response.body
    assert len(response.body) < 1000


def test_body_over_the_limit_is_413_through_the_shim(champion: dict[str, Any],
                                                      settings_factory: Any,
                                                      shim_factory: Any) -> None:
    small = shim_factory(settings_factory(max_body_bytes=2048))
    body = json.dumps({"instances": [ROW] * 20}).encode()
    assert len(body) > 2048
    for headers in (JSON, {**JSON, "content-length": str(len(body))}):
        response = small.post("/predict", body=body, headers=headers)
        assert response.status_code == 413, response
        assert response.json() == {"error": "payload_too_large", "field": "body",
                                   "message": "The body is larger than 2048 bytes."}
    assert small.post("/predict", json_body={"instances": [ROW]}).status_code == 200


def test_request_id_header_is_not_reflected_unsanitised(shim: Any) -> None:
    response = shim.get("/health/live", headers={"x-request-id": "<script>" + CANARY})
    assert CANARY not in response.headers["x-request-id"]
    assert shim.get("/health/live", headers={"x-request-id": "abc-123"}).headers[
        "x-request-id"] == "abc-123"


def test_process_stays_healthy_after_bad_input(shim: Any, champion: dict[str, Any]) -> None:
    for case, body, headers, _, _ in CASES:
        assert shim.post("/predict", body=body, headers=headers).status_code < 500, case
    assert shim.get("/health").status_code == 200
    good = shim.post("/predict", json_body={"dataframe_split": split([ROW])})
    assert good.status_code == 200
    assert good.json()["model"]["version"] == champion["version"]
