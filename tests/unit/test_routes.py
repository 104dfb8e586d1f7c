"""Every public route of the real app (``create_app``) over fake models, through starlette's
TestClient with the lifespan run: scoring in every body format, the documented errors,
health and model info, the admin key, webhooks and request ids. Milliseconds each."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.unit.fakes import FakeSource, fake_model
from tests.unit.serving import (
    CANARY,
    MAX_BATCH_ROWS,
    MAX_BODY_BYTES,
    ROWS,
    SCORES,
    SIGNATURE,
    TestClient,
    assert_error,
    scoring_model,
    served,
)

JSON = "application/json"
CSV = "text/csv"
MODEL = {"name": "m", "version": "1", "source": "registry"}
BAD, INVALID = "BAD_REQUEST", "INVALID_PARAMETER_VALUE"


@pytest.fixture(scope="module")
def client() -> Any:
    with served() as test_client:
        yield test_client


def _post(client: TestClient, path: str, body: Any, content_type: str = JSON, **headers: str) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=content, headers={"content-type": content_type, **headers})


# --- scoring: every body format on both routes ----------------------------------------------

HAPPY: list[tuple[str, bytes | dict[str, Any], str, list[float]]] = [
    ("instances", {"instances": ROWS}, JSON, SCORES),
    ("inputs as records", {"inputs": ROWS}, JSON, SCORES),
    ("inputs as columns", {"inputs": {"x": [1.5, -1.0], "n": [2, 7]}}, JSON, SCORES),
    ("dataframe_records", {"dataframe_records": ROWS}, JSON, SCORES),
    (
        "dataframe_split, columns reordered",
        {"dataframe_split": {"columns": ["n", "x"], "data": [[2, 1.5], [7, -1.0]]}},
        JSON,
        SCORES,
    ),
    ("csv, columns reordered", b"n,x\n2,1.5\n7,-1.0\n", CSV, SCORES),
    ("charset utf-8", {"instances": ROWS}, JSON + "; charset=utf-8", SCORES),
    ("params reach the model", {"instances": ROWS, "params": {"scale": 2}}, JSON, [34.0, -6.0]),
]


@pytest.mark.parametrize(("case", "body", "content_type", "scores"), HAPPY, ids=[case[0] for case in HAPPY])
def test_predict_scores_every_format(
    client: TestClient, case: str, body: Any, content_type: str, scores: list[float]
) -> None:
    response = _post(client, "/predict", body, content_type, **{"x-request-id": "req-1"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer.pop("processing_time_ms") >= 0
    assert answer == {"predictions": scores, "model": MODEL, "request_id": "req-1"}
    assert (
        response.headers["x-model-name"],
        response.headers["x-model-version"],
        response.headers["x-model-source"],
    ) == ("m", "1", "registry")


@pytest.mark.parametrize(("case", "body", "content_type", "scores"), HAPPY, ids=[case[0] for case in HAPPY])
def test_invocations_scores_every_format(
    client: TestClient, case: str, body: Any, content_type: str, scores: list[float]
) -> None:
    response = _post(client, "/invocations", body, content_type)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": scores}
    assert response.headers["x-model-version"] == "1"


# --- bad input: the documented 4xx, naming the field ----------------------------------------


def _too_big() -> bytes:
    body = json.dumps({"instances": ROWS, "pad": "x" * MAX_BODY_BYTES}).encode()
    assert len(body) > MAX_BODY_BYTES
    return body


# case, body, content type, /predict (status, error, field), /invocations (... , error_code).
# A list instead is the predictions: /invocations accepts what `mlflow models serve` accepts
# (extra columns and top-level keys ignored, a boolean is 1.0 in a double column).
ERRORS: list[tuple[str, Any, str, tuple[Any, ...], tuple[Any, ...] | list[float]]] = [
    (
        "missing column",
        {"instances": [{"x": 1.5}]},
        JSON,
        (400, "invalid_input", "n"),
        (400, "invalid_input", "n", INVALID),
    ),
    (
        "extra column",
        {"instances": [{**ROWS[0], "extra": 1.0}]},
        JSON,
        (400, "invalid_input", "columns"),
        SCORES[:1],
    ),
    (
        "string in a double column",
        {"instances": [{"x": CANARY, "n": 2}]},
        JSON,
        (400, "invalid_input", "x"),
        (400, "invalid_input", "x", BAD),
    ),
    (
        "boolean in a double column",
        {"instances": [{"x": True, "n": 2}]},
        JSON,
        (400, "invalid_input", "x"),
        [12.0],
    ),
    (
        "malformed json",
        b'{"instances": [' + CANARY.encode(),
        JSON,
        (400, "invalid_input", "body"),
        (400, "invalid_input", "body", BAD),
    ),
    ("empty body", b"", JSON, (400, "invalid_input", "body"), (400, "invalid_input", "body", BAD)),
    ("not an object", [ROWS[0]], JSON, (400, "invalid_input", "body"), (400, "invalid_input", "body", BAD)),
    (
        "two format keys",
        {"instances": ROWS, "inputs": ROWS},
        JSON,
        (400, "invalid_input", "body"),
        (400, "invalid_input", "body", BAD),
    ),
    ("unknown top-level key", {"instances": ROWS, CANARY: 1}, JSON, (400, "invalid_input", "body"), SCORES),
    (
        "unsupported content type",
        {"instances": ROWS},
        "text/plain",
        (415, "unsupported_media_type", "content-type"),
        (415, "unsupported_media_type", "content-type", BAD),
    ),
    (
        "non-utf8 charset",
        {"instances": ROWS},
        JSON + "; charset=latin-1",
        (415, "unsupported_media_type", "content-type"),
        (415, "unsupported_media_type", "content-type", BAD),
    ),
    (
        "param of the wrong type",
        {"instances": ROWS, "params": {"scale": CANARY}},
        JSON,
        (400, "invalid_input", "params.scale"),
        (400, "invalid_input", "params.scale", INVALID),
    ),
    (
        "params not an object",
        {"instances": ROWS, "params": [CANARY]},
        JSON,
        (400, "invalid_input", "params"),
        (400, "invalid_input", "params", INVALID),
    ),
    (
        "csv repeated header name",
        b"x,n,x\n1.5,2,1.5\n",
        CSV,
        (400, "invalid_input", "header"),
        (400, "invalid_input", "header", BAD),
    ),
    (
        "batch over MAX_BATCH_ROWS",
        {"instances": ROWS[:1] * (MAX_BATCH_ROWS + 1)},
        JSON,
        (413, "payload_too_large", "instances"),
        (413, "payload_too_large", "instances", BAD),
    ),
    (
        "body over MAX_BODY_BYTES",
        _too_big(),
        JSON,
        (413, "payload_too_large", "body"),
        (413, "payload_too_large", "body", BAD),
    ),
]


@pytest.mark.parametrize("path", ["/predict", "/invocations"])
@pytest.mark.parametrize(
    ("case", "body", "content_type", "predict", "invocations"), ERRORS, ids=[case[0] for case in ERRORS]
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient,
    path: str,
    case: str,
    body: Any,
    content_type: str,
    predict: tuple[Any, ...],
    invocations: tuple[Any, ...] | list[float],
) -> None:
    response = _post(client, path, body, content_type)
    expected = predict if path == "/predict" else invocations
    if isinstance(expected, list):
        assert response.status_code == 200, response.text
        assert response.json() == {"predictions": expected}
        return
    error = assert_error(response, *expected)
    if case.startswith("missing"):
        assert "'n'" in error["message"]
    if case == "body over MAX_BODY_BYTES":
        assert error["message"] == f"The body is larger than {MAX_BODY_BYTES} bytes."


def test_a_chunked_body_over_the_limit_is_413_too(client: TestClient) -> None:
    """No Content-Length: the limit is enforced while the body is read."""
    body = _too_big()

    def chunks() -> Any:
        yield from (body[i : i + 1000] for i in range(0, len(body), 1000))

    for path in ("/predict", "/invocations"):
        response = client.post(path, content=chunks(), headers={"content-type": JSON})
        assert "content-length" not in response.request.headers
        assert_error(response, 413, "payload_too_large", "body", BAD)


def test_a_wrong_type_names_the_row_on_predict(client: TestClient) -> None:
    response = _post(client, "/predict", {"instances": [ROWS[0], {"x": 1.0, "n": 2.5}]})
    error = assert_error(response, 400, "invalid_input", "n")
    assert error["row"] == 1
    assert error["message"] == "Column 'n' row 1: expected long, got a number."


# --- models without a signature, unwrapped bodies, how predictions render ---------------------


def _columns_model(version: str) -> Any:
    """No signature; each row's prediction is the list of the frame's column names."""
    return fake_model(version, predict=lambda frame, _: [sorted(map(str, frame.columns))] * len(frame))


def test_without_a_signature_invocations_ignores_unknown_keys_and_params() -> None:
    """As `mlflow models serve`: other top-level keys are ignored, and so are params of any
    kind when the model has no param schema; /predict refuses both."""
    body = {"dataframe_records": [{"a": 1, "b": "q"}], "extra": {"k": 1}, "params": [1, 2]}
    with served(FakeSource(model=_columns_model)) as client:
        response = _post(client, "/invocations", body)
        assert response.status_code == 200, response.text
        assert response.json() == {"predictions": [["a", "b"]]}
        assert_error(_post(client, "/predict", body), 400, "invalid_input", "body")
        only_params = {"dataframe_records": [{"a": 1}], "params": [1, 2]}
        assert_error(_post(client, "/predict", only_params), 400, "invalid_input", "params")
        unwrapped = _post(client, "/invocations", {"prompt": "hi", "temperature": 0.5})
        assert unwrapped.status_code == 200, unwrapped.text
        assert unwrapped.json() == [["prompt", "temperature"]]  # bare, as MLflow answers


RENDERINGS: list[tuple[str, Any, list[Any]]] = [
    ("numpy array", lambda frame: np.asarray(frame["x"] * 2), [3.0, -2.0]),
    ("non-finite values are null", lambda frame: np.array([np.nan, np.inf]), [None, None]),
    ("DataFrame as records", lambda frame: pd.DataFrame({"y": frame["n"]}), [{"y": 2}, {"y": 7}]),
    ("Series as one-key records", lambda frame: frame["n"].rename("y"), [{"y": 2}, {"y": 7}]),
    ("2-d array as lists", lambda frame: frame[["n", "x"]].to_numpy(), [[2.0, 1.5], [7.0, -1.0]]),
]


@pytest.mark.parametrize(("case", "output", "expected"), RENDERINGS, ids=[case[0] for case in RENDERINGS])
def test_predictions_render_as_mlflow_renders_them(case: str, output: Any, expected: list[Any]) -> None:
    source = FakeSource(
        model=lambda v: fake_model(v, schema=scoring_model(v).schema, predict=lambda frame, _: output(frame))
    )
    with served(source) as client:
        for path in ("/predict", "/invocations"):
            response = _post(client, path, {"dataframe_records": ROWS})
            assert response.status_code == 200, response.text
            assert response.json()["predictions"] == expected


# --- a model that fails -----------------------------------------------------------------------


class _Opaque:
    """A prediction that cannot be rendered as JSON."""


def _raising(frame: Any, params: Any) -> Any:
    raise ValueError(f"cannot score {CANARY}")


@pytest.mark.parametrize(
    ("case", "predict", "predict_error", "invocations_error"),
    [
        ("the model raises", _raising, (400, "invalid_input", "body"), (400, "invalid_input", "body", BAD)),
        (
            "the prediction is not JSON",
            lambda frame, _: [_Opaque()] * len(frame),
            (500, "internal_error", None),
            (500, "internal_error", None, "INTERNAL_ERROR"),
        ),
    ],
    ids=["raises", "unrenderable"],
)
def test_a_failing_model_gets_a_json_error_and_the_app_keeps_serving(
    case: str, predict: Any, predict_error: tuple[Any, ...], invocations_error: tuple[Any, ...]
) -> None:
    """The TestClient re-raises whatever leaves the app: none does."""
    with served(FakeSource(model=lambda v: fake_model(v, predict=predict))) as client:
        for path, expected in (("/predict", predict_error), ("/invocations", invocations_error)):
            error = assert_error(_post(client, path, {"dataframe_records": ROWS}), *expected)
            if expected[0] == 400:
                assert "could not score this input" in error["message"]
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ready"


# --- no model loaded ----------------------------------------------------------------------------


def test_without_a_model_every_route_answers_503_model_unavailable() -> None:
    source = FakeSource(fail=True)
    with served(source, startup_wait_seconds=0.5) as client:
        for path, method, expected in [
            ("/predict", "POST", (503, "model_unavailable", None)),
            ("/invocations", "POST", (503, "model_unavailable", None, "TEMPORARILY_UNAVAILABLE")),
            ("/ping", "GET", (503, "model_unavailable", None)),
        ]:
            response = client.request(method, path, json={"instances": ROWS})
            error = assert_error(response, *expected)
            assert (error["message"], error["reason"]) == ("No model is loaded yet.", "registry: refused")
            assert response.headers["retry-after"] == "5"
        health = client.get("/health")
        assert health.status_code == 503 and health.headers["retry-after"] == "5"
        assert {k: health.json()[k] for k in ("status", "error", "reason")} == {
            "status": "unavailable",
            "error": "model_unavailable",
            "reason": "registry: refused",
        }
        info = client.get("/model/info")
        assert info.status_code == 503
        assert (info.json()["error"], info.json()["load_attempts"][-1]["outcome"]) == (
            "model_unavailable",
            "failed",
        )
        reload = client.post("/model/reload")
        assert reload.status_code == 503
        assert {k: reload.json()[k] for k in ("error", "reason", "serving")} == {
            "error": "reload_failed",
            "reason": "registry: refused",
            "serving": None,
        }

        source.fail = False  # the registry answers again: a reload serves, no restart
        assert client.post("/model/reload").json()["status"] == "reloaded"
        assert _post(client, "/predict", {"instances": [{"a": 1}]}).json()["predictions"] == [0.0]


# --- health, info and MLflow's probe routes -------------------------------------------------


def test_health_routes(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "alive"}
    for path in ("/health", "/health/ready"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready"
        assert body["model"] == {**MODEL, "signed": True}
        assert body["registry"]["reachable"] is True and body["registry"]["checked_at"]
        assert body["uptime_seconds"] >= 0 and body["loaded_at"]
        assert body["fallback"] == {"version": None, "in_sync": None}
        assert "unresolved_settings" not in body


def test_mlflow_ping_and_version(client: TestClient) -> None:
    ping = client.get("/ping")
    assert (ping.status_code, ping.json()) == (200, {"status": "ready"})
    version = client.get("/version")
    assert version.status_code == 200
    assert version.headers["content-type"].startswith("text/plain")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version.text), version.text


def test_model_info(client: TestClient) -> None:
    response = client.get("/model/info")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("name", "version", "source", "model_uri", "signed", "trust")} == {
        **MODEL,
        "model_uri": "models:/m/1",
        "signed": True,
        "trust": "signed",
    }
    assert body["signature"] == SIGNATURE
    assert body["load_attempts"][-1]["outcome"] == "loaded"
    assert body["load_attempts"][-1]["uri"] == "models:/m@champion"  # no admin key: all shown
    assert body["refresh"] == {"interval_seconds": 0.0, "refreshes": 0, "failures": 0, "last_error": None}


def test_unknown_routes_and_methods(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404, "not_found", None)
    assert_error(client.get("/predict"), 405, "method_not_allowed", None)
    assert_error(client.get("/invocations"), 405, "method_not_allowed", None, BAD)


# --- request ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("abc-123.x:y_z", "abc-123.x:y_z"),
        ("<script>" + CANARY, None),  # not a plain token: replaced
        ("x" * 129, None),  # too long: replaced
        (None, None),
    ],
    ids=["plain token", "markup", "too long", "absent"],
)
def test_the_request_id_is_echoed_or_made(client: TestClient, sent: str | None, echoed: str | None) -> None:
    headers = {"x-request-id": sent} if sent else {}
    for response in (
        client.get("/health/live", headers=headers),
        _post(client, "/predict", b"{", **headers),
    ):  # errors carry it too
        request_id = response.headers["x-request-id"]
        assert request_id == echoed if echoed else re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_a_500_echoes_the_request_id_too() -> None:
    with served(FakeSource(model=lambda v: fake_model(v, predict=lambda f, _: [_Opaque()]))) as client:
        response = _post(client, "/predict", {"instances": [{"a": 1}]}, **{"x-request-id": "trace-me"})
        assert response.status_code == 500
        assert response.headers.get("x-request-id") == "trace-me"


# --- the admin key ----------------------------------------------------------------------------

KEY = "k3y-for-tests"
ADMIN_CASES = [  # presented header, expected (status, error, field) for a refused key
    ({}, (401, "unauthorized", "x-admin-key")),
    ({"x-admin-key": "wrong"}, (403, "forbidden", "x-admin-key")),
]


@pytest.mark.parametrize(("headers", "refused"), ADMIN_CASES, ids=["no key", "wrong key"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/model/reload"),
        ("POST", "/reload-model"),
        ("GET", "/registry/models"),
        ("GET", "/registry/models/m/compare"),
        ("POST", "/registry/models/m/promote"),
        ("POST", "/registry/models/m/rollback"),
    ],
)
def test_admin_routes_refuse_a_missing_or_wrong_key(
    method: str, path: str, headers: dict[str, str], refused: tuple[Any, ...]
) -> None:
    source = FakeSource()
    with served(source, admin_api_key=KEY) as client:
        calls = source.chain_calls
        assert_error(client.request(method, path, headers=headers, json={"version": "2"}), *refused)
        assert source.chain_calls == calls  # refused before anything ran


def test_reload_with_the_admin_key_goes_through_the_source_and_swaps() -> None:
    source = FakeSource(model=scoring_model)
    with served(source, admin_api_key=KEY) as client:
        calls = source.chain_calls
        source.target = "2"
        response = client.post("/model/reload", headers={"x-admin-key": KEY})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["model"]["version"], body["previous"]["version"]) == (
            "reloaded",
            "2",
            "1",
        )
        assert body["load_attempts"][-1]["outcome"] == "loaded"
        assert source.chain_calls == calls + 1
        scored = _post(client, "/predict", {"instances": ROWS})
        assert scored.headers["x-model-version"] == "2" and scored.json()["predictions"] == SCORES


def test_model_info_hides_load_details_from_non_admins() -> None:
    with served(admin_api_key=KEY) as client:
        public = client.get("/model/info").json()["load_attempts"][-1]
        admin = client.get("/model/info", headers={"x-admin-key": KEY}).json()["load_attempts"][-1]
        assert "uri" not in public and "error" not in public and public["outcome"] == "loaded"
        assert admin["uri"] == "models:/m@champion"


@pytest.mark.parametrize(
    ("settings", "method", "path", "body", "expected"),
    [
        ({}, "GET", "/registry/models", None, (403, "admin_disabled", None)),
        (
            {"admin_api_key": KEY},
            "POST",
            "/registry/models/m/promote",
            {"version": "x"},
            (400, "invalid_request", "version"),
        ),
        (
            {"admin_api_key": KEY},
            "POST",
            "/registry/models/m/promote",
            {"version": "2", "alias": "a", "stage": "Production"},
            (400, "invalid_request", "stage"),
        ),
        ({"admin_api_key": KEY}, "POST", "/registry/models/m/promote", b"{", (400, "invalid_json", "body")),
        (
            {"admin_api_key": KEY, "registry_writes_enabled": False},
            "POST",
            "/registry/models/m/promote",
            {"version": "2"},
            (403, "registry_writes_disabled", None),
        ),
        (
            {"admin_api_key": KEY, "registry_writes_enabled": False},
            "POST",
            "/registry/models/m/rollback",
            None,
            (403, "registry_writes_disabled", None),
        ),
    ],
    ids=[
        "no admin key configured",
        "bad version",
        "alias and stage",
        "not json",
        "promote read-only",
        "rollback read-only",
    ],
)
def test_registry_requests_refused_before_any_registry_call(
    settings: dict[str, Any], method: str, path: str, body: Any, expected: tuple[Any, ...]
) -> None:
    """The registry address is a discard port: had the route called it, the answer would be
    503 registry_unavailable, not these."""
    with served(**settings) as client:
        headers = {"x-admin-key": KEY, "content-type": JSON} if settings else {}
        content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        assert_error(client.request(method, path, content=content, headers=headers), *expected)


def test_an_unresolved_key_vault_admin_key_keeps_reload_closed() -> None:
    """An ADMIN_API_KEY left as its Key Vault reference counts as configured but unusable."""
    with served(admin_api_key="@Microsoft.KeyVault(SecretUri=https://v/secrets/k)") as client:
        assert_error(client.post("/model/reload"), 403, "admin_disabled", None)
        assert client.get("/health").json()["unresolved_settings"] == ["ADMIN_API_KEY"]


# --- webhooks ---------------------------------------------------------------------------------

SECRET = "webhook-secret"
EVENT = json.dumps(
    {
        "entity": "model_version_alias",
        "action": "created",
        "data": {"name": "m", "alias": "champion", "version": "2"},
    }
).encode()


def _signed(delivery: str, payload: bytes = EVENT, *, age: int = 0, secret: str = SECRET) -> dict[str, str]:
    """MLflow's webhook headers: ``v1,`` + base64(HMAC-SHA256(id.timestamp.payload))."""
    timestamp = str(int(time.time()) - age)
    signed = f"{delivery}.{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return {
        "x-mlflow-signature": "v1," + base64.b64encode(digest).decode(),
        "x-mlflow-delivery-id": delivery,
        "x-mlflow-timestamp": timestamp,
    }


def test_a_signed_webhook_refreshes_through_the_source_once() -> None:
    source = FakeSource()
    with served(source, webhook_secret=SECRET) as client:
        source.target = "2"
        response = client.post("/hooks/mlflow", content=EVENT, headers=_signed("d-1"))
        assert (response.status_code, response.json()) == (
            202,
            {"status": "accepted", "event": "model_version_alias.created", "refreshing": True},
        )
        deadline = time.monotonic() + 5
        while client.get("/model/info").json()["version"] != "2":
            assert time.monotonic() < deadline, "the webhook's refresh never swapped"
            time.sleep(0.01)
        again = client.post("/hooks/mlflow", content=EVENT, headers=_signed("d-1"))
        assert (again.status_code, again.json()["status"]) == (202, "duplicate")


@pytest.mark.parametrize(
    ("settings", "signing", "expected"),
    [
        ({}, {}, (403, "webhooks_disabled", None)),
        ({"webhook_secret": SECRET}, None, (401, "unsigned_webhook", "x-mlflow-signature")),
        ({"webhook_secret": SECRET}, {"secret": "other"}, (401, "bad_signature", "x-mlflow-signature")),
        ({"webhook_secret": SECRET}, {"age": 3600}, (401, "stale_webhook", "x-mlflow-timestamp")),
    ],
    ids=["disabled", "unsigned", "bad signature", "stale"],
)
def test_webhooks_that_are_refused(
    settings: dict[str, Any], signing: dict[str, Any] | None, expected: tuple[Any, ...]
) -> None:
    source = FakeSource()
    with served(source, **settings) as client:
        source.target = "2"
        headers = _signed("d-2", **signing) if signing is not None else {}
        assert_error(client.post("/hooks/mlflow", content=EVENT, headers=headers), *expected)
        assert client.get("/model/info").json()["version"] == "1"
