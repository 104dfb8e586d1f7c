"""Acceptance 1: each flavor, logged with MLflow's own log_model, signed, registered and
aliased, is served through the real Functions shim, and /predict and /invocations answer
exactly what MLflow's pyfunc (as `mlflow models serve` encodes it) answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.flavors.cases import CASES, Logged, log_case, mlflow_predictions, split_body


@pytest.fixture(scope="module", params=sorted(CASES))
def logged(request: pytest.FixtureRequest, settings_factory: Callable[..., Any]) -> Logged:
    return log_case(settings_factory(), CASES[request.param])


def _settings(settings_factory: Callable[..., Any], logged: Logged) -> Any:
    return settings_factory(model_name=logged.name, allow_pickle=logged.case.pickle, fallback_enabled=False)


def test_predictions_equal_mlflow_pyfunc(
    logged: Logged, settings_factory: Callable[..., Any], shim_factory: Callable[..., Any]
) -> None:
    settings = _settings(settings_factory, logged)
    expected = mlflow_predictions(settings, logged, logged.frame)
    shim = shim_factory(settings)

    invocations = shim.post("/invocations", json_body=split_body(logged.frame))
    assert invocations.status_code == 200, invocations
    assert invocations.json() == {"predictions": expected}

    records = logged.frame.head(3).to_dict(orient="records")
    predict = shim.post("/predict", json_body={"instances": records})
    assert predict.status_code == 200, predict
    assert predict.json()["predictions"] == expected[:3]
    assert predict.headers["x-model-version"] == logged.version

    csv = logged.frame.head(2).to_csv(index=False).encode()
    as_csv = shim.post("/invocations", body=csv, headers={"content-type": "text/csv"})
    assert as_csv.status_code == 200, as_csv
    assert as_csv.json()["predictions"] == expected[:2]
    _check_kind(logged.case.key, expected)


def _check_kind(key: str, predictions: list[Any]) -> None:
    """What MLflow returns, and so what is served, by kind: probabilities from a binary
    Booster, labels from the scikit-learn API classifiers, label + per-class probabilities
    from the ONNX classifier, a record per row from any ONNX model."""
    if key in ("xgb-booster-binary", "lgb-booster-binary"):
        assert all(0.0 < p < 1.0 for p in predictions)
        assert len({round(p, 6) for p in predictions}) > 2  # not labels
    elif key.startswith(("xgb-classifier", "lgb-classifier")):
        assert set(predictions) <= {0, 1}
    elif key == "onnx-classifier":
        assert set(predictions[0]) == {"output_label", "output_probability"}
        probabilities = predictions[0]["output_probability"]
        assert set(probabilities) == {"0", "1"}
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    elif key == "onnx-regression":
        assert set(predictions[0]) == {"variable"}


def test_model_info_names_the_flavor_and_trust_path(
    logged: Logged, settings_factory: Callable[..., Any], shim_factory: Callable[..., Any]
) -> None:
    shim = shim_factory(_settings(settings_factory, logged))
    assert shim.get("/health/ready").status_code == 200
    info = shim.get("/model/info").json()
    case = logged.case
    assert (info["flavor"], info["format"], info["deserializer"]) == (
        case.flavor,
        case.format,
        case.deserializer,
    )
    assert (info["trust"], info["signed"], info["version"]) == ("signed", True, logged.version)
    assert info["signature"]["inputs"][0]["type"] == "double"


def test_bad_input_is_a_400_naming_the_field(
    logged: Logged, settings_factory: Callable[..., Any], shim_factory: Callable[..., Any]
) -> None:
    shim = shim_factory(_settings(settings_factory, logged))
    record = logged.frame.head(1).to_dict(orient="records")[0]
    record.pop(next(iter(record)))
    response = shim.post("/predict", json_body={"instances": [record]})
    assert response.status_code == 400, response
    assert response.json()["field"] is not None
    assert "Traceback" not in response.body.decode()
    text = logged.frame.head(1).to_dict(orient="split")
    text["data"][0][0] = "not a number"
    response = shim.post(
        "/invocations", json_body={"dataframe_split": {"columns": text["columns"], "data": text["data"]}}
    )
    assert response.status_code == 400, response
    assert "not a number" not in response.body.decode()  # request data is never echoed
