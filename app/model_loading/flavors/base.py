"""What every flavor loader shares: the MLmodel view of a flavor (``Spec``), the result of a
load (``Deserialized``), and the checks on MLmodel's flavor sections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from app.model_loading.mlmodel import MLmodel
from app.model_loading.paths import confined
from app.model_loading.types import LoadError

MAX_MODEL_BYTES = 1024 * 1024 * 1024
PICKLE_FORMATS = ("pickle", "cloudpickle")
PredictFn = Callable[[Any, dict[str, Any] | None], Any]
# How the bytes became objects: a format that cannot run code (XGBoost UBJ/JSON, LightGBM
# text, ONNX protobuf), skops with an allow-list of types, or pickle (signed + ALLOW_PICKLE).
Deserializer = Literal["native", "skops", "pickle"]


@dataclass(frozen=True)
class Spec:
    """What MLmodel says about the flavor that will serve it (paths already confined).

    ``vouched_types`` are skops types this project trusts for the flavor without an
    operator's ``--trust`` (only lightgbm's scikit-learn API classes, as MLflow does)."""

    flavor: str
    format: str
    model_file: str | None
    model_class: str | None = None
    vouched_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deserialized:
    predict_fn: PredictFn
    model_class: str
    flavor: str
    format: str
    sha256: str | None  # of the main model file
    deserializer: Deserializer = "native"


def section(meta: MLmodel, flavor: str) -> dict[str, Any]:
    """MLmodel's configuration of ``flavor``; LoadError when it has none."""
    found = meta.flavors.get(flavor)
    if found is None:
        raise LoadError(f"the signature says {flavor}, but MLmodel has no {flavor} flavor")
    return found


def data_file(config: dict[str, Any], key: str, flavor: str) -> str:
    """The model file a flavor section names, confined to the model directory."""
    return confined(config.get(key), what=f"MLmodel's {flavor} {key} path")


def text(config: dict[str, Any], key: str, default: str) -> str:
    value = config.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or not value or len(value) > 200:
        raise LoadError(f"MLmodel's {key} is not a short string")
    return value


def plain_predictor(predict: Callable[[Any], Any]) -> PredictFn:
    """``predict(frame)``, ignoring params (as MLflow's pyfunc wrappers of these flavors do)."""

    def run(frame: Any, params: dict[str, Any] | None) -> Any:
        return predict(frame)

    return run
