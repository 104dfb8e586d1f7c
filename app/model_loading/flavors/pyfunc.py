"""Any other MLflow model (custom ``python_model``, pytorch, legacy Keras, ...) through
``mlflow.pyfunc``. It unpickles, so the caller has already required a signature and
ALLOW_PICKLE (the format is always cloudpickle)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from app.model_loading import fetch_mlflow
from app.model_loading.flavors.base import MAX_MODEL_BYTES, Deserialized, Spec, section
from app.model_loading.mlmodel import MLmodel
from app.model_loading.trust import ArtifactFiles
from app.model_loading.types import LoadError
from app.settings import Settings
from app.signing.claims import ServingClaims

FLAVOR = "python_function"


def describe(meta: MLmodel) -> Spec:
    section(meta, FLAVOR)
    return Spec(FLAVOR, "cloudpickle", None)


def load(settings: Settings, spec: Spec, files: ArtifactFiles, claims: ServingClaims | None) -> Deserialized:
    if claims is None or files.manifest is None:  # also refused upstream: pickle needs a signature
        raise LoadError("an unsigned python_function model is never loaded")
    import mlflow.pyfunc

    # Kept for the model's lifetime (a pyfunc may read its files lazily); removed with it.
    workdir = tempfile.TemporaryDirectory(prefix="model-")
    root = Path(workdir.name)
    for name in files.names:  # every signed file, each checked before it is written
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files.read(name, MAX_MODEL_BYTES))
    with fetch_mlflow.mlflow_may_unpickle():  # signed and ALLOW_PICKLE: checked upstream
        model = mlflow.pyfunc.load_model(str(root))

    def run(frame: Any, params: dict[str, Any] | None, _keep: Any = workdir) -> Any:
        return model.predict(frame, params=params)

    return Deserialized(run, "mlflow.pyfunc.PyFuncModel", FLAVOR, spec.format, None, deserializer="pickle")
