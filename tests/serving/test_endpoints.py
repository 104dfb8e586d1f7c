"""Every endpoint through the real Azure Functions shim, against real MLflow and Azurite."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.lifecycle.training import FEATURES
from tests.support.models import ROW, rows, split


@pytest.fixture(scope="module")
def shim(champion: dict[str, Any], settings_factory: Any) -> Any:
    from tests.support.shim import ShimClient

    client = ShimClient(settings_factory())
    yield client
    client.close()


def test_function_app_registers_one_asgi_function() -> None:
    import function_app

    functions = function_app.app.get_functions()
    assert [f.get_function_name() for f in functions] == ["http_app_func"]
    trigger = functions[0].get_trigger()
    assert trigger.route == "/{*route}"
    assert str(trigger.auth_level).endswith("FUNCTION")


def test_live(shim: Any) -> None:
    response = shim.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_ready_reports_registry_model(shim: Any, champion: dict[str, Any], path: str) -> None:
    response = shim.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["model"] == {
        "name": champion["name"],
        "version": champion["version"],
        "source": "registry",
        "signed": True,
    }
    assert body["registry"]["reachable"] is True
    assert body["uptime_seconds"] >= 0


def test_model_info(shim: Any, champion: dict[str, Any]) -> None:
    body = shim.get("/model/info").json()
    assert body["version"] == champion["version"]
    assert body["alias"] == "champion"
    assert body["run_id"] == champion["run_id"]
    assert body["source"] == "registry"
    assert body["sha256"] == champion["sha256"]
    assert (body["signed"], body["trust"], body["flavor"], body["format"]) == (
        True,
        "signed",
        "sklearn",
        "skops",
    )
    assert [c["name"] for c in body["signature"]["inputs"]] == FEATURES
    assert body["metrics"]["r2"] > 0.3
    assert body["load_attempts"][-1]["outcome"] == "loaded"


def test_predict_matches_raw_model(shim: Any, champion: dict[str, Any]) -> None:
    import mlflow.sklearn
    import pandas as pd

    records = rows(25)
    response = shim.post("/predict", json_body={"instances": records})
    assert response.status_code == 200, response
    body = response.json()
    assert body["model"]["version"] == champion["version"]
    assert response.headers["x-model-version"] == champion["version"]
    assert body["request_id"] and body["processing_time_ms"] >= 0
    from app.model_loading import fetch_mlflow

    with fetch_mlflow.mlflow_may_unpickle():  # the session's own training made these bytes
        raw = mlflow.sklearn.load_model(f"models:/{champion['name']}/{champion['version']}")
    expected = raw.predict(pd.DataFrame(records)[FEATURES])
    np.testing.assert_allclose(body["predictions"], expected, rtol=1e-9)


@pytest.mark.parametrize(
    "payload",
    [
        {"instances": [ROW, ROW]},
        {"inputs": [ROW, ROW]},
        {"dataframe_records": [ROW, ROW]},
        {"dataframe_split": split([ROW, ROW])},
        {"inputs": {k: [v, v] for k, v in ROW.items()}},
    ],
)
def test_invocations_formats_agree(shim: Any, payload: dict[str, Any]) -> None:
    reference = shim.post("/predict", json_body={"instances": [ROW, ROW]}).json()["predictions"]
    response = shim.post("/invocations", json_body=payload)
    assert response.status_code == 200, response
    assert response.json() == {"predictions": reference}


def test_invocations_csv(shim: Any) -> None:
    header = ",".join(FEATURES)
    line = ",".join(str(ROW[c]) for c in FEATURES)
    response = shim.post(
        "/invocations", body=f"{header}\n{line}\n".encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response
    expected = shim.post("/predict", json_body={"instances": [ROW]}).json()["predictions"]
    assert response.json()["predictions"] == pytest.approx(expected)


def test_reload_keeps_serving(shim: Any, champion: dict[str, Any]) -> None:
    response = shim.post("/model/reload")
    assert response.status_code == 200
    assert response.json()["model"]["version"] == champion["version"]
    legacy = shim.post("/reload-model")
    assert legacy.status_code == 200


def test_openapi_docs(shim: Any) -> None:
    assert shim.get("/docs").status_code == 200
    spec = shim.get("/openapi.json").json()
    for path in ("/predict", "/invocations", "/health", "/model/info", "/model/reload"):
        assert path in spec["paths"]


def test_unknown_route_is_json_404(shim: Any) -> None:
    response = shim.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_mlflow_ping_and_version(shim: Any) -> None:
    import mlflow

    ping = shim.get("/ping")
    assert ping.status_code == 200 and ping.json() == {"status": "ready"}
    version = shim.get("/version")
    assert version.status_code == 200
    assert version.body.decode() == mlflow.__version__
    assert version.headers["content-type"].startswith("text/plain")


def test_ping_is_503_at_once_while_no_model_is_loaded(settings_factory: Any, shim_factory: Any) -> None:
    degraded = shim_factory(
        settings_factory(use_mlflow_registry=False, fallback_enabled=False, startup_wait_seconds=0)
    )
    response = degraded.get("/ping")
    assert response.status_code == 503
    assert response.json()["error"] == "model_unavailable"
    assert response.headers["retry-after"] == "5"


def test_invocations_parquet_and_unwrapped_form(shim: Any) -> None:
    import io

    import pandas as pd

    reference = shim.post("/predict", json_body={"instances": [ROW, ROW]}).json()["predictions"]
    buffer = io.BytesIO()
    pd.DataFrame([ROW, ROW]).to_parquet(buffer)
    parquet = shim.post(
        "/invocations", body=buffer.getvalue(), headers={"content-type": "application/vnd.apache.parquet"}
    )
    assert parquet.status_code == 200, parquet
    assert parquet.json() == {"predictions": reference}
    unwrapped = shim.post("/invocations", json_body={**ROW, "prompt": "ignored"})
    assert unwrapped.status_code == 200, unwrapped
    assert unwrapped.json() == reference[:1]


def test_every_invocations_error_carries_an_mlflow_error_code(shim: Any) -> None:
    wrong_method = shim.get("/invocations")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error_code"] == "BAD_REQUEST"
    assert "error_code" not in shim.get("/predict").json()
