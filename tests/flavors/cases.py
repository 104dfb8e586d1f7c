"""Models logged the way a user logs them: with MLflow's own ``log_model`` of each flavor,
then signed, registered and aliased (nothing from this project's training code)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from app.lifecycle.training import load_data
from app.settings import Settings

ROWS = 25


@dataclass(frozen=True)
class Case:
    """One way to log a model; ``fit`` returns (model, log_model kwargs, task)."""

    key: str
    flavor: str
    format: str
    deserializer: str
    task: str
    log: Callable[[pd.DataFrame, pd.Series, dict[str, Any]], Any]
    pickle: bool = False


@dataclass
class Logged:
    case: Case
    name: str
    version: str
    frame: pd.DataFrame  # request rows

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def _xgb_booster(objective: str) -> Callable[..., Any]:
    def log(x: pd.DataFrame, y: pd.Series, common: dict[str, Any]) -> Any:
        import mlflow.xgboost
        import xgboost

        booster = xgboost.train(
            {"objective": objective, "max_depth": 3, "eta": 0.3},
            xgboost.DMatrix(x, label=y),
            num_boost_round=20,
        )
        return mlflow.xgboost.log_model(
            booster, **common, signature=_signature(x, booster.predict(xgboost.DMatrix(x.head(5))))
        )

    return log


def _xgb_sklearn(kind: str) -> Callable[..., Any]:
    def log(x: pd.DataFrame, y: pd.Series, common: dict[str, Any]) -> Any:
        import mlflow.xgboost
        import xgboost

        model = getattr(xgboost, kind)(n_estimators=20, max_depth=3).fit(x, y)
        return mlflow.xgboost.log_model(model, **common, signature=_signature(x, model.predict(x.head(5))))

    return log


def _lgb_booster(objective: str) -> Callable[..., Any]:
    def log(x: pd.DataFrame, y: pd.Series, common: dict[str, Any]) -> Any:
        import lightgbm
        import mlflow.lightgbm

        booster = lightgbm.train(
            {"objective": objective, "num_leaves": 15, "verbose": -1},
            lightgbm.Dataset(x, label=y),
            num_boost_round=20,
        )
        return mlflow.lightgbm.log_model(
            booster, **common, signature=_signature(x, booster.predict(x.head(5)))
        )

    return log


def _lgb_sklearn(serialization_format: str) -> Callable[..., Any]:
    def log(x: pd.DataFrame, y: pd.Series, common: dict[str, Any]) -> Any:
        import lightgbm
        import mlflow.lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=15, verbose=-1).fit(x, y)
        return mlflow.lightgbm.log_model(
            model,
            **common,
            serialization_format=serialization_format,
            signature=_signature(x, model.predict(x.head(5))),
        )

    return log


def _onnx(task: str) -> Callable[..., Any]:
    def log(x: pd.DataFrame, y: pd.Series, common: dict[str, Any]) -> Any:
        import mlflow.onnx

        from app.lifecycle.training import MODEL_TYPES, build_pipeline
        from examples.onnx_model import to_onnx

        pipeline = build_pipeline(1.0, MODEL_TYPES[task][0], task).fit(x, y)  # type: ignore[arg-type]
        graph = to_onnx(pipeline, x)
        return mlflow.onnx.log_model(graph, **common, signature=_signature(x, None))

    return log


def _signature(x: pd.DataFrame, y: Any) -> Any:
    from mlflow.models import infer_signature

    return infer_signature(x, y)


CASES = {
    case.key: case
    for case in (
        Case(
            "xgb-booster-regression",
            "xgboost",
            "ubj",
            "native",
            "regression",
            _xgb_booster("reg:squarederror"),
        ),
        Case(
            "xgb-booster-binary",
            "xgboost",
            "ubj",
            "native",
            "classification",
            _xgb_booster("binary:logistic"),
        ),  # a Booster returns probabilities
        Case("xgb-regressor", "xgboost", "ubj", "native", "regression", _xgb_sklearn("XGBRegressor")),
        Case("xgb-classifier", "xgboost", "ubj", "native", "classification", _xgb_sklearn("XGBClassifier")),
        Case(
            "lgb-booster-regression", "lightgbm", "text", "native", "regression", _lgb_booster("regression")
        ),
        Case("lgb-booster-binary", "lightgbm", "text", "native", "classification", _lgb_booster("binary")),
        Case("lgb-classifier-skops", "lightgbm", "skops", "skops", "classification", _lgb_sklearn("skops")),
        Case(
            "lgb-classifier-pickle",
            "lightgbm",
            "cloudpickle",
            "pickle",
            "classification",
            _lgb_sklearn("cloudpickle"),
            pickle=True,
        ),
        Case("onnx-regression", "onnx", "onnx", "native", "regression", _onnx("regression")),
        Case("onnx-classifier", "onnx", "onnx", "native", "classification", _onnx("classification")),
    )
}
NATIVE = [key for key, case in CASES.items() if case.deserializer == "native"]


def log_case(
    settings: Settings,
    case: Case,
    *,
    sign: bool = True,
    alias: str | None = "champion",
    name: str | None = None,
) -> Logged:
    """Fit, log with MLflow's own log_model, register, sign (unless ``sign`` is False) and
    alias one case as a new model (or a new version of ``name``)."""
    import mlflow
    from mlflow import MlflowClient

    from app.lifecycle.signing import sign_version

    name = name or f"flavor-{case.key}-{uuid.uuid4().hex[:6]}"
    x, y = load_data(case.task)  # type: ignore[arg-type]
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment("flavors")
    with mlflow.start_run():
        info = case.log(x, y, {"name": "model", "input_example": x.head(3), "registered_model_name": name})
    version = str(info.registered_model_version)
    if sign:
        sign_version(settings, name, version, allow_pickle_format=case.pickle)
    if alias:
        MlflowClient(settings.mlflow_tracking_uri).set_registered_model_alias(name, alias, version)
    return Logged(case, name, version, x.sample(ROWS, random_state=7))


def mlflow_predictions(settings: Settings, logged: Logged, frame: pd.DataFrame) -> Any:
    """What ``mlflow models serve`` answers: mlflow.pyfunc's predictions, JSON-encoded by
    MLflow's scoring server."""
    import mlflow.pyfunc
    from mlflow.pyfunc.scoring_server import predictions_to_json

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    with _pickle_allowed(logged.case.pickle):
        model = mlflow.pyfunc.load_model(logged.uri)
    out = io.StringIO()
    predictions_to_json(model.predict(frame), out)
    return json.loads(out.getvalue())["predictions"]


def _pickle_allowed(allowed: bool) -> Any:
    """MLflow may unpickle only for the pickle cases (the switch is off otherwise: see
    app.model_loading.fetch_mlflow.configure)."""
    from app.model_loading import fetch_mlflow

    if allowed:
        return fetch_mlflow.mlflow_may_unpickle()
    assert os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION") != "true"
    return contextlib.nullcontext()


def split_body(frame: pd.DataFrame) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}}
