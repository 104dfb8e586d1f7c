"""From verified files to a predict function, by MLflow flavor.

The format (skops, pickle, ...) and the skops trusted types come from the signed claims
(or, for skops only, the operator's SKOPS_TRUSTED_TYPES); MLmodel must agree with the claims.
Anything that unpickles needs a signature *and* ALLOW_PICKLE.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.model_loading import artifacts
from app.model_loading.mlmodel import MLmodel
from app.model_loading.paths import confined
from app.model_loading.trust import ArtifactFiles
from app.model_loading.types import LoadError, class_path
from app.settings import Settings
from app.signing.claims import ServingClaims

MAX_MODEL_BYTES = 1024 * 1024 * 1024
PredictFn = Callable[[Any, dict[str, Any] | None], Any]


@dataclass(frozen=True)
class Deserialized:
    predict_fn: PredictFn
    model_class: str
    flavor: str
    format: str
    sha256: str | None  # of the main model file


def load(settings: Settings, meta: MLmodel, files: ArtifactFiles,
         claims: ServingClaims | None) -> Deserialized:
    flavor = claims.flavor if claims else ("sklearn" if "sklearn" in meta.flavors else None)
    if flavor == "sklearn":
        return _sklearn(settings, meta, files, claims)
    if flavor == "python_function":
        return _pyfunc(settings, meta, files, claims)
    if claims is None:
        raise LoadError("only signed models of flavors other than scikit-learn load; this one "
                        "is unsigned (flavors: " + ", ".join(sorted(meta.flavors)) + ")")
    raise LoadError(f"the signature names flavor {flavor!r}, which this server cannot load")


def sklearn_predictor(model: Any) -> PredictFn:
    predict = model.predict

    def run(frame: Any, params: dict[str, Any] | None) -> Any:
        return predict(frame)

    return run


def _sklearn(settings: Settings, meta: MLmodel, files: ArtifactFiles,
             claims: ServingClaims | None) -> Deserialized:
    flavor = meta.flavors.get("sklearn")
    if flavor is None:
        raise LoadError("the signature says scikit-learn, but MLmodel has no sklearn flavor")
    model_file = confined(flavor.get("pickled_model"), what="MLmodel's pickled_model path")
    mlmodel_format = str(flavor.get("serialization_format", "cloudpickle"))
    fmt = claims.format if claims else mlmodel_format
    if fmt != mlmodel_format:
        raise LoadError(f"MLmodel says {mlmodel_format!r} but the signature says {fmt!r}; refused")
    if fmt not in artifacts.FORMATS:
        raise LoadError(f"unknown serialization format {fmt!r}")
    if fmt != artifacts.SKOPS and claims is None:
        raise LoadError("an unsigned pickle is never loaded, whatever ALLOW_PICKLE says")
    if fmt != artifacts.SKOPS and not settings.allow_pickle:
        raise LoadError("the model is a signed pickle and ALLOW_PICKLE is off; refusing to unpickle it")
    data = files.read(model_file, MAX_MODEL_BYTES)
    trusted = set(settings.skops_trusted_types) | set(claims.trusted_types if claims else ())
    obj = artifacts.deserialize(data, fmt, trusted=trusted, allow_pickle=settings.allow_pickle)
    return Deserialized(sklearn_predictor(obj), class_path(obj), "sklearn", fmt,
                        artifacts.sha256_hex(data))


def _pyfunc(settings: Settings, meta: MLmodel, files: ArtifactFiles,
            claims: ServingClaims | None) -> Deserialized:
    """Any other MLflow model through ``mlflow.pyfunc``: it unpickles, so signed + ALLOW_PICKLE."""
    if claims is None or files.manifest is None:
        raise LoadError("an unsigned python_function model is never loaded")
    if not settings.allow_pickle:
        raise LoadError("the model is a signed python_function (pickle-based) model and "
                        "ALLOW_PICKLE is off; refusing to load it")
    if "python_function" not in meta.flavors:
        raise LoadError("the signature says python_function, but MLmodel has none")
    import mlflow.pyfunc

    # Kept for the model's lifetime (a pyfunc may read its files lazily); removed with it.
    workdir = tempfile.TemporaryDirectory(prefix="model-")
    root = Path(workdir.name)
    for name in files.names:  # every signed file, each checked before it is written
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files.read(name, MAX_MODEL_BYTES))
    model = mlflow.pyfunc.load_model(str(root))

    def run(frame: Any, params: dict[str, Any] | None, _keep: Any = workdir) -> Any:
        return model.predict(frame, params=params)

    return Deserialized(run, "mlflow.pyfunc.PyFuncModel", "python_function", claims.format, None)
