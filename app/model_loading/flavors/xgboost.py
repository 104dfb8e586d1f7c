"""XGBoost: the UBJ/JSON model file MLflow's xgboost flavor writes, read by XGBoost itself.

No pickle: the file is a data format. MLmodel's ``model_class`` picks a Booster or one of
XGBoost's scikit-learn classes, from a fixed list (MLflow's own loader imports whatever
class MLmodel names). Predictions are MLflow's pyfunc ones: ``predict`` with
``validate_features`` (labels for XGBClassifier, the objective's output for a Booster).
"""

from __future__ import annotations

from typing import Any

from app.model_loading import artifacts
from app.model_loading.flavors.base import (
    MAX_MODEL_BYTES,
    Deserialized,
    PredictFn,
    Spec,
    data_file,
    plain_predictor,
    section,
    text,
)
from app.model_loading.mlmodel import MLmodel
from app.model_loading.trust import ArtifactFiles
from app.model_loading.types import LoadError
from app.settings import Settings
from app.signing.claims import ServingClaims

FLAVOR = "xgboost"
BOOSTER = "xgboost.core.Booster"
MODEL_CLASSES = (
    BOOSTER,
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRanker",
    "xgboost.sklearn.XGBRFRegressor",
    "xgboost.sklearn.XGBRFClassifier",
)
# MLflow's model_format: "ubj" (default), "json", or "xgb" (older MLflow; XGBoost >= 2 writes
# UBJ under that name). XGBoost detects JSON/UBJ from the bytes.
FORMATS = ("ubj", "json", "xgb")


def describe(meta: MLmodel) -> Spec:
    config = section(meta, FLAVOR)
    model_file = data_file(config, "data", FLAVOR)
    fmt = text(config, "model_format", "xgb")
    if fmt not in FORMATS:
        raise LoadError(
            f"unknown XGBoost model format {fmt!r} (this server reads " + ", ".join(FORMATS) + ")"
        )
    model_class = text(config, "model_class", BOOSTER)
    if model_class not in MODEL_CLASSES:
        raise LoadError(
            f"MLmodel names the XGBoost model class {model_class!r}; this server "
            "loads only " + ", ".join(MODEL_CLASSES)
        )
    return Spec(FLAVOR, fmt, model_file, model_class)


def load(settings: Settings, spec: Spec, files: ArtifactFiles, claims: ServingClaims | None) -> Deserialized:
    assert spec.model_file is not None and spec.model_class is not None
    data = files.read(spec.model_file, MAX_MODEL_BYTES)
    import xgboost

    model = getattr(xgboost, spec.model_class.rsplit(".", 1)[1])()  # one of MODEL_CLASSES
    try:
        model.load_model(bytearray(data))
    except (xgboost.core.XGBoostError, ValueError, TypeError) as exc:
        raise LoadError(
            f"XGBoost could not read {spec.model_file}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
        ) from None
    return Deserialized(_predictor(model), spec.model_class, FLAVOR, spec.format, artifacts.sha256_hex(data))


def _predictor(model: Any) -> PredictFn:
    import xgboost

    if isinstance(model, xgboost.Booster):

        def predict(frame: Any) -> Any:
            return model.predict(xgboost.DMatrix(frame), validate_features=True)

        return plain_predictor(predict)

    def predict_sklearn(frame: Any) -> Any:
        return model.predict(frame, validate_features=True)

    return plain_predictor(predict_sklearn)
