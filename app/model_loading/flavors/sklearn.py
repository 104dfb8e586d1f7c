"""scikit-learn: skops (types allow-listed by the signed claims and SKOPS_TRUSTED_TYPES), or
a signed pickle with ALLOW_PICKLE. ``load_estimator`` also serves lightgbm's scikit-learn
API models, which MLflow stores the same way."""

from __future__ import annotations

from app.model_loading import artifacts
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

FLAVOR = "sklearn"


def describe(meta: MLmodel) -> Spec:
    config = section(meta, FLAVOR)
    model_file = data_file(config, "pickled_model", FLAVOR)
    return Spec(FLAVOR, serialization_format(config), model_file)


def serialization_format(config: dict[str, object]) -> str:
    fmt = text(config, "serialization_format", artifacts.CLOUDPICKLE)  # MLflow's old default
    if fmt not in artifacts.FORMATS:
        raise LoadError(f"unknown serialization format {fmt!r}")
    return fmt


def load(settings: Settings, spec: Spec, files: ArtifactFiles, claims: ServingClaims | None) -> Deserialized:
    return load_estimator(settings, spec, files, claims)


def load_estimator(
    settings: Settings, spec: Spec, files: ArtifactFiles, claims: ServingClaims | None
) -> Deserialized:
    """Deserialize a skops or (signed, allowed) pickle estimator and serve its ``predict``."""
    assert spec.model_file is not None
    data = files.read(spec.model_file, MAX_MODEL_BYTES)
    trusted = set(settings.skops_trusted_types) | set(claims.trusted_types if claims else ())
    obj = artifacts.deserialize(data, spec.format, trusted=trusted, allow_pickle=settings.allow_pickle)
    return Deserialized(
        plain_predictor(obj.predict),
        class_path(obj),
        spec.flavor,
        spec.format,
        artifacts.sha256_hex(data),
        deserializer="skops" if spec.format == artifacts.SKOPS else "pickle",
    )
