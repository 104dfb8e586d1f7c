"""Bad input through the real Functions shim: always a 4xx naming the field, never a 500,
never the request's own data echoed back, and the process stays healthy."""

from __future__ import annotations

import json
import logging
import time
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
CSV = {"content-type": "text/csv"}
OK = (200, None, None)
BAD = "BAD_REQUEST"
INVALID = "INVALID_PARAMETER_VALUE"
# case, body, headers, /predict (status, field), /invocations (status, field, MLflow error_code).
# /invocations answers as `mlflow models serve` does (tests/parity checks that against MLflow
# itself): unknown keys and columns are ignored, values convert by MLflow's rules (a boolean
# is 1.0 in a double column), and a value the model cannot score is the model's refusal.
CASES: list[tuple[str, bytes, dict[str, str], tuple[int, str], tuple[int, str | None, str | None]]] = [
    ("malformed json", b'{"instances": [' + CANARY.encode(), JSON, (400, "body"), (400, "body", BAD)),
    ("empty body", b"", JSON, (400, "body"), (400, "body", BAD)),
    ("not an object", json.dumps([ROW]).encode(), JSON, (400, "body"), (400, "body", BAD)),
    ("no format key", json.dumps({"rows": [ROW]}).encode(), JSON, (400, "body"), (400, "body", BAD)),
    (
        "two format keys",
        json.dumps({"instances": [ROW], "inputs": [ROW]}).encode(),
        JSON,
        (400, "body"),
        (400, "body", BAD),
    ),
    (
        "unknown top-level field",
        json.dumps({"instances": [ROW], CANARY: 1}).encode(),
        JSON,
        (400, "body"),
        OK,
    ),
    (
        "wrong content type",
        json.dumps({"instances": [ROW]}).encode(),
        {"content-type": "text/plain"},
        (415, "content-type"),
        (415, "content-type", BAD),
    ),
    (
        "form content type",
        b"a=1",
        {"content-type": "application/x-www-form-urlencoded"},
        (415, "content-type"),
        (415, "content-type", BAD),
    ),
    (
        "non-utf8 charset",
        json.dumps({"instances": [ROW]}).encode(),
        {"content-type": "application/json; charset=latin-1"},
        (415, "content-type"),
        (415, "content-type", BAD),
    ),
    (
        "content-type parameter",
        json.dumps({"instances": [ROW]}).encode(),
        {"content-type": "application/json; format=" + CANARY},
        (200, ""),
        (415, "content-type", BAD),
    ),
    ("empty batch", json.dumps({"instances": []}).encode(), JSON, (400, "instances"), (400, "age", INVALID)),
    (
        "empty records",
        json.dumps({"dataframe_records": []}).encode(),
        JSON,
        (400, "dataframe_records"),
        (400, "age", INVALID),
    ),
    (
        "missing column",
        json.dumps({"instances": [{k: v for k, v in ROW.items() if k != "bmi"}]}).encode(),
        JSON,
        (400, "bmi"),
        (400, "bmi", INVALID),
    ),
    ("extra column", json.dumps({"instances": [{**ROW, "agee": 1.0}]}).encode(), JSON, (400, "columns"), OK),
    (
        "ragged records",
        json.dumps({"instances": [ROW, {**ROW, "extra": 1}]}).encode(),
        JSON,
        (400, "instances"),
        (400, "body", INVALID),
    ),
    (
        "string in a number column",
        json.dumps({"instances": [{**ROW, "age": CANARY}]}).encode(),
        JSON,
        (400, "age"),
        (400, "age", BAD),
    ),
    (
        "object in a number column",
        json.dumps({"instances": [{**ROW, "age": {CANARY: 1}}]}).encode(),
        JSON,
        (400, "age"),
        (400, "age", BAD),
    ),
    (
        "null in a required column",
        json.dumps({"instances": [{**ROW, "age": None}]}).encode(),
        JSON,
        (400, "age"),
        (400, "body", BAD),
    ),
    ("bool column", json.dumps({"instances": [{**ROW, "age": True}]}).encode(), JSON, (400, "age"), OK),
    (
        "bool among numbers",
        json.dumps({"instances": [ROW, {**ROW, "bmi": False}]}).encode(),
        JSON,
        (400, "bmi"),
        OK,
    ),
    (
        "bool in a split batch",
        json.dumps(
            {
                "dataframe_split": {
                    "columns": list(ROW),
                    "data": [list(ROW.values()), [True, *list(ROW.values())[1:]]],
                }
            }
        ).encode(),
        JSON,
        (400, "age"),
        OK,
    ),
    (
        "NaN literal",
        json.dumps({"instances": [{**ROW, "age": float("nan")}]}).encode(),
        JSON,
        (400, "body"),
        (400, "body", BAD),
    ),
    (
        "Infinity literal",
        json.dumps({"instances": [{**ROW, "age": float("inf")}]}).encode(),
        JSON,
        (400, "body"),
        (400, "body", BAD),
    ),
    ("overflowing number", b'{"instances": [{"age": 1e999}]}', JSON, (400, "body"), (400, "sex", INVALID)),
    (
        "deeply nested body",
        ('{"instances": ' + _nested(5000) + "}").encode(),
        JSON,
        (400, "body"),
        (400, "body", BAD),
    ),
    (
        "deeply nested value",
        ('{"instances": [{"age": ' + _nested(500) + "}]}").encode(),
        JSON,
        (400, "age"),
        (400, "age", BAD),
    ),
    (
        "split width mismatch",
        json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[0.1]]}}).encode(),
        JSON,
        (400, "dataframe_split.data"),
        (400, "dataframe_split", BAD),
    ),
    (
        "split columns not strings",
        json.dumps({"dataframe_split": {"columns": [1, 2], "data": []}}).encode(),
        JSON,
        (400, "dataframe_split.columns"),
        (400, "age", INVALID),
    ),
    (
        "params not an object",
        json.dumps({"instances": [ROW], "params": [CANARY]}).encode(),
        JSON,
        (400, "params"),
        OK,
    ),
    ("csv without header", b"0.1,0.2\n", CSV, (400, "body"), (400, "age", INVALID)),
    (
        "csv NaN",
        (",".join(FEATURES) + "\n" + ",".join(["nan"] * 10) + "\n").encode(),
        CSV,
        (400, "age"),
        (400, "body", BAD),
    ),
    (
        "csv inf",
        (",".join(FEATURES) + "\n" + ",".join(["inf"] * 10) + "\n").encode(),
        CSV,
        (400, "age"),
        (400, "body", BAD),
    ),
    (
        "csv repeated header name",
        (",".join([*FEATURES, "age"]) + "\n" + ",".join(["0.1"] * 11) + "\n").encode(),
        CSV,
        (400, "header"),
        (400, "header", BAD),
    ),
    (
        "csv with too many columns",
        (",".join([*FEATURES, *(f"c{i}" for i in range(40))]) + "\n").encode(),
        CSV,
        (400, "header"),
        (400, "header", BAD),
    ),
    (
        "not parquet",
        b"PAR1" + CANARY.encode() + b"PAR1",
        {"content-type": "application/vnd.apache.parquet"},
        (415, "content-type"),
        (400, "body", BAD),
    ),
    (
        "too many rows",
        json.dumps({"instances": [ROW] * (MAX_ROWS + 1)}).encode(),
        JSON,
        (413, "instances"),
        (413, "instances", BAD),
    ),
    (
        "too many csv rows",
        (",".join(FEATURES) + "\n" + (",".join(["0.1"] * 10) + "\n") * (MAX_ROWS + 1)).encode(),
        CSV,
        (413, "body"),
        (413, "body", BAD),
    ),
]


@pytest.mark.parametrize("path", ["/predict", "/invocations"])
@pytest.mark.parametrize(
    ("case", "body", "headers", "predict", "invocations"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused_clearly(
    shim: Any,
    path: str,
    case: str,
    body: bytes,
    headers: dict[str, str],
    predict: tuple[int, str],
    invocations: tuple[int, str | None, str | None],
) -> None:
    response = shim.post(path, body=body, headers=headers)
    status, field = (predict if path == "/predict" else invocations)[:2]
    assert response.status_code == status, response
    assert CANARY.encode() not in response.body
    assert b"Traceback" not in response.body
    if status == 200:
        assert len(response.json()["predictions"]) >= 1
        return
    error = response.json()
    assert error["field"] == field
    assert error["message"] and error["error"] in (
        "invalid_input",
        "unsupported_media_type",
        "payload_too_large",
    )
    if path == "/invocations":
        assert error["error_code"] == invocations[2]


def test_unknown_columns_are_named_escaped_and_bounded_on_predict(shim: Any) -> None:
    long_name = "n" * 500
    response = shim.post(
        "/predict", json_body={"instances": [{**ROW, "agee": 1.0, "it's": 2.0, long_name: 3.0}]}
    )
    assert response.status_code == 400
    error = response.json()
    assert error["field"] == "columns"
    assert "unknown columns 'agee', \"it's\", 'nnn" in error["message"]
    assert long_name not in error["message"] and len(error["message"]) < 400
    one = shim.post("/predict", json_body={"dataframe_records": [{**ROW, "agee": 0.1}]})
    assert "an unknown column 'agee';" in one.json()["message"]


def test_missing_columns_are_named_on_both_routes(shim: Any) -> None:
    body = {"dataframe_records": [{k: v for k, v in ROW.items() if k not in ("bmi", "s6")}]}
    for path in ("/predict", "/invocations"):
        error = shim.post(path, json_body=body).json()
        assert error["field"] == "bmi" and "'bmi'" in error["message"], (path, error)


def test_a_string_over_the_default_body_limit_is_refused_by_size(shim: Any) -> None:
    body = json.dumps({"instances": [{**ROW, "age": CANARY + "x" * 21_000_000}]}).encode()
    response = shim.post("/predict", body=body, headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_ten_megabyte_string_under_a_larger_limit_names_the_column(
    champion: dict[str, Any], settings_factory: Any, shim_factory: Any
) -> None:
    big = shim_factory(settings_factory(max_body_bytes=32 * 1024 * 1024))
    body = json.dumps({"instances": [{**ROW, "age": CANARY + "x" * 10_000_000}]}).encode()
    response = big.post("/predict", body=body, headers=JSON)
    assert response.status_code == 400, response
    assert response.json()["field"] == "age"
    assert CANARY.encode() not in response.body
    assert len(response.body) < 1000


def test_body_over_the_limit_is_413_through_the_shim(
    champion: dict[str, Any], settings_factory: Any, shim_factory: Any
) -> None:
    small = shim_factory(settings_factory(max_body_bytes=2048))
    body = json.dumps({"instances": [ROW] * 20}).encode()
    assert len(body) > 2048
    for headers in (JSON, {**JSON, "content-length": str(len(body))}):
        response = small.post("/predict", body=body, headers=headers)
        assert response.status_code == 413, response
        assert response.json() == {
            "error": "payload_too_large",
            "field": "body",
            "message": "The body is larger than 2048 bytes.",
        }
    assert small.post("/predict", json_body={"instances": [ROW]}).status_code == 200


def test_request_id_header_is_not_reflected_unsanitised(shim: Any) -> None:
    response = shim.get("/health/live", headers={"x-request-id": "<script>" + CANARY})
    assert CANARY not in response.headers["x-request-id"]
    assert shim.get("/health/live", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"


def test_process_stays_healthy_after_bad_input(shim: Any, champion: dict[str, Any]) -> None:
    for case, body, headers, _, _ in CASES:
        for path in ("/predict", "/invocations"):
            assert shim.post(path, body=body, headers=headers).status_code < 500, (path, case)
    assert shim.get("/health").status_code == 200
    good = shim.post("/predict", json_body={"dataframe_split": split([ROW])})
    assert good.status_code == 200
    assert good.json()["model"]["version"] == champion["version"]


def _access_latencies(caplog: pytest.LogCaptureFixture, route: str) -> list[float]:
    return [
        record.latency_ms
        for record in caplog.records  # type: ignore[attr-defined]
        if record.name == "app.access" and getattr(record, "route", None) == route
    ]


def test_csv_header_bomb_is_refused_fast_and_the_event_loop_stays_responsive(
    shim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Security review F3: 60,000 repeated header names took 37 s of CPU in pandas, and a
    16 KiB one (then parsed on the event loop) stalled every request for 2.4 s.

    Timing bounds are the acceptance criteria of issue 13 (50 ms of server time, /health/live
    within 100 ms, here as the median probe). Server time is the access log's latency, the
    best of five tries, so a neighbour's CPU burst on this shared machine does not decide
    the result."""
    big = ("a," * 59_999 + "a\n" + "1," * 59_999 + "1\n").encode()  # 234 KiB
    small = ("a," * 8_189 + "a\n").encode()  # 16 KiB: small enough to have been parsed inline
    caplog.set_level(logging.INFO, logger="app.access")
    for path in ("/invocations", "/predict"):
        for _ in range(5):
            response = shim.post(path, body=big, headers=CSV)
            assert response.status_code == 400, response
            assert response.json()["field"] == "header"
        assert min(_access_latencies(caplog, path)) < 50, _access_latencies(caplog, path)

    pending = [
        shim.submit("POST", path, body=body, headers=CSV)
        for body in (big, small) * 4
        for path in ("/invocations", "/predict")
    ]
    probes = []
    for _ in range(10):
        started = time.perf_counter()
        assert shim.get("/health/live").status_code == 200
        probes.append(time.perf_counter() - started)
    assert all(future.result(60).status_code == 400 for future in pending)
    # Typically all within 100 ms; the bounds leave room for a loaded CI machine and still
    # catch the old behaviour (each 16 KiB body held the loop 2.4 s, eight of them in a row).
    assert sorted(probes)[len(probes) // 2] < 0.1, probes
    assert max(probes) < 1.0, probes
