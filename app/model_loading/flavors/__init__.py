"""From verified files to a predict function, by MLflow flavor.

One module per flavor, registered by flavor name and imported only when a served model
needs it, so a scikit-learn model never imports xgboost, lightgbm or onnxruntime. Each
module has ``describe(meta) -> Spec`` (what MLmodel says: format, model file, class;
nothing imported) and ``load(settings, spec, files, claims) -> Deserialized``.

The flavor and format come from the signed claims (an unsigned model, in migration mode
only, from MLmodel); MLmodel must agree with the claims. Anything that unpickles needs a
signature *and* ALLOW_PICKLE, checked here for every flavor before the module runs.
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol

from app.model_loading.flavors.base import (
    MAX_MODEL_BYTES,
    PICKLE_FORMATS,
    Deserialized,
    PredictFn,
    Spec,
)
from app.model_loading.mlmodel import MLmodel
from app.model_loading.trust import ArtifactFiles
from app.model_loading.types import LoadError
from app.settings import Settings
from app.signing.claims import ServingClaims

__all__ = [
    "MAX_MODEL_BYTES",
    "PICKLE_FORMATS",
    "REGISTRY",
    "Deserialized",
    "PredictFn",
    "Spec",
    "describe",
    "load",
    "warm_up",
    "warm_up_signatures",
]

REGISTRY: dict[str, str] = {
    "sklearn": "app.model_loading.flavors.sklearn",
    "xgboost": "app.model_loading.flavors.xgboost",
    "lightgbm": "app.model_loading.flavors.lightgbm",
    "onnx": "app.model_loading.flavors.onnx",
    "python_function": "app.model_loading.flavors.pyfunc",
}
# An MLmodel lists its native flavor and python_function: the native one serves it.
PRECEDENCE = ("sklearn", "xgboost", "lightgbm", "onnx", "python_function")
# The library each flavor imports, for a clear error where a deployment left it out.
LIBRARIES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "onnx": "onnxruntime"}


class FlavorModule(Protocol):
    def describe(self, meta: MLmodel) -> Spec: ...

    def load(
        self, settings: Settings, spec: Spec, files: ArtifactFiles, claims: ServingClaims | None
    ) -> Deserialized: ...


def warm_up(flavor: str) -> None:
    """Import ``flavor``'s library now (xgboost, lightgbm, onnxruntime), then the signature
    verifier's: called on the main thread while the first load waits on the registry. Never
    fatal: the load meets the same error and reports it. scikit-learn's skops is warmed up by
    ``ModelManager.preload`` itself (see there why)."""
    if (library := LIBRARIES.get(flavor)) is not None:
        try:
            importlib.import_module(library)
        except Exception:  # a warm-up must never stop the app from starting
            logging.getLogger(__name__).exception("could not import %s ahead of the load", library)
    warm_up_signatures()


def warm_up_signatures() -> None:
    """Import the signature check's ECDSA code (~35 ms) ahead of the first load; never fatal."""
    try:
        from app.signing.keys import warm_up

        warm_up()
    except Exception:  # a warm-up must never stop the app from starting
        logging.getLogger(__name__).exception("could not import the signature verifier")


def module(flavor: str) -> FlavorModule:
    name = REGISTRY.get(flavor)
    if name is None:
        raise LoadError(f"the signature names flavor {flavor!r}, which this server cannot load")
    loaded: FlavorModule = importlib.import_module(name)
    return loaded


def describe(meta: MLmodel) -> Spec:
    """The flavor, format and model file that would serve ``meta`` (signing time, and
    unsigned models in migration mode). Reads MLmodel only; imports no model library."""
    for flavor in PRECEDENCE:
        if flavor in meta.flavors:
            return module(flavor).describe(meta)
    raise LoadError("MLmodel has no flavor this server can load: " + ", ".join(sorted(meta.flavors)))


def load(
    settings: Settings, meta: MLmodel, files: ArtifactFiles, claims: ServingClaims | None
) -> Deserialized:
    flavor = claims.flavor if claims else describe(meta).flavor
    flavor_module = module(flavor)
    spec = flavor_module.describe(meta)
    if claims is not None and claims.format != spec.format:
        raise LoadError(f"MLmodel says {spec.format!r} but the signature says {claims.format!r}; refused")
    if spec.format in PICKLE_FORMATS:
        if claims is None:
            raise LoadError("an unsigned pickle is never loaded, whatever ALLOW_PICKLE says")
        if not settings.allow_pickle:
            raise LoadError(
                f"the model is a signed pickle ({flavor}, {spec.format}) and "
                "ALLOW_PICKLE is off; refusing to unpickle it"
            )
    try:
        return flavor_module.load(settings, spec, files, claims)
    except ModuleNotFoundError as exc:
        library = LIBRARIES.get(flavor)
        if library is None or exc.name != library:
            raise
        raise LoadError(
            f"this deployment does not include {library}, which the {flavor} flavor "
            f"needs (build the zip with `python -m deploy build-zip --flavors "
            f"...,{flavor}`)"
        ) from None
