"""LightGBM: a Booster's native text model (``model.lgb``), parsed by LightGBM itself.

MLflow stores a scikit-learn-API model (``LGBMRegressor``, ``LGBMClassifier``, ...) not as
a text model but like scikit-learn: skops (MLflow's default since 3.x) or pickle. Those
load exactly like scikit-learn models: skops with an allow-list of types (the four MLflow
itself trusts for LightGBM are vouched for here, anything else needs ``--trust``), pickle
only signed with ``--pickle`` and with ALLOW_PICKLE. Predictions are MLflow's pyfunc ones:
``predict`` (a Booster's objective output, e.g. probabilities; a classifier's labels).
"""

from __future__ import annotations

from app.model_loading import artifacts
from app.model_loading.flavors import sklearn
from app.model_loading.flavors.base import (
    MAX_MODEL_BYTES,
    Deserialized,
    Spec,
    data_file,
    plain_predictor,
    section,
    text,
)
from app.model_loading.mlmodel import MLmodel
from app.model_loading.trust import ArtifactFiles
from app.model_loading.types import LoadError, class_path
from app.settings import Settings
from app.signing.claims import ServingClaims

FLAVOR = "lightgbm"
BOOSTER = "lightgbm.basic.Booster"
TEXT = "text"  # LightGBM's own model format
SKLEARN_CLASSES = (
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRanker",
    "lightgbm.sklearn.LGBMModel",
)
# What MLflow's lightgbm flavor trusts in the skops files it writes (a Booster is rebuilt
# from its text model, the estimators from their parameters).
SKOPS_TYPES = (
    "collections.OrderedDict",
    BOOSTER,
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
)


def describe(meta: MLmodel) -> Spec:
    config = section(meta, FLAVOR)
    model_file = data_file(config, "data", FLAVOR)
    model_class = text(config, "model_class", BOOSTER)
    if model_class == BOOSTER:
        return Spec(FLAVOR, TEXT, model_file, model_class)
    if model_class not in SKLEARN_CLASSES:
        raise LoadError(
            f"MLmodel names the LightGBM model class {model_class!r}; this server "
            "loads only " + ", ".join((BOOSTER, *SKLEARN_CLASSES))
        )
    return Spec(
        FLAVOR, sklearn.serialization_format(config), model_file, model_class, vouched_types=SKOPS_TYPES
    )


def load(settings: Settings, spec: Spec, files: ArtifactFiles, claims: ServingClaims | None) -> Deserialized:
    if spec.format != TEXT:
        loaded = sklearn.load_estimator(settings, spec, files, claims)
        if loaded.model_class != spec.model_class:
            raise LoadError(
                f"MLmodel says {spec.model_class} but the file holds {loaded.model_class}; refused"
            )
        return loaded
    assert spec.model_file is not None
    data = files.read(spec.model_file, MAX_MODEL_BYTES)
    try:
        model_text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LoadError(f"{spec.model_file} is not a LightGBM text model") from None
    import lightgbm

    try:
        booster = lightgbm.Booster(model_str=model_text)
    except (lightgbm.basic.LightGBMError, ValueError) as exc:
        raise LoadError(
            f"LightGBM could not read {spec.model_file}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
        ) from None
    return Deserialized(
        plain_predictor(booster.predict), class_path(booster), FLAVOR, TEXT, artifacts.sha256_hex(data)
    )
