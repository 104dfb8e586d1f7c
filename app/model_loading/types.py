"""What a load produces (a servable model), what it starts from, and what each attempt records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from app.input_schema import InputSchema

Source = Literal["registry", "blob_fallback"]
# How the served bytes came to be trusted: a verified signature, or (REQUIRE_SIGNED_MODELS=false,
# migration only) nothing but the operator's own skops trust list.
Trust = Literal["signed", "unsigned"]


class LoadError(Exception):
    """A source could not produce a model; the message is safe to show to operators."""


class UnreachableError(LoadError):
    """The source's service did not answer (down, refused, or timed out)."""


@dataclass
class LoadAttempt:
    source: str  # model_uri | registry | run_id | run_name | blob_fallback
    uri: str | None
    outcome: Literal["loaded", "failed", "skipped"]
    error: str | None = None
    duration_ms: float = 0.0
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Resolved:
    """One concrete model to load: a registry version, a run artifact, or the blob copy.

    ``signature`` is the signature bundle as found next to it (a version tag, a run tag, a
    blob); it is only a claim until verified."""

    name: str
    version: str | None
    run_id: str | None
    uri: str  # models:/name/3, runs:/id/path or blob://container/name/3
    source: Source = "registry"
    alias: str | None = None
    stage: str | None = None
    artifact_path: str | None = None
    signature: bytes | None = None


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str | None
    source: Source
    uri: str
    predict_fn: Callable[[pd.DataFrame, dict[str, Any] | None], Any]
    schema: InputSchema | None
    signature: dict[str, Any] | None = None
    run_id: str | None = None
    alias: str | None = None
    stage: str | None = None
    sha256: str | None = None
    model_class: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    flavor: str | None = None
    format: str | None = None
    # native (XGBoost/LightGBM/ONNX files, no code can run), skops (allow-listed types) or
    # pickle (signed and ALLOW_PICKLE): how the verified bytes became a model
    deserializer: str | None = None
    trust: Trust = "signed"
    signed_by: str | None = None  # id (sha256 of the PEM) of the key that verified it
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def predict(self, frame: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return self.predict_fn(frame, params)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "source": self.source}

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "stage": self.stage,
            "model_uri": self.uri,
            "run_id": self.run_id,
            "source": self.source,
            "loaded_at": self.loaded_at,
            "sha256": self.sha256,
            "model_class": self.model_class,
            "flavor": self.flavor,
            "format": self.format,
            "deserializer": self.deserializer,
            "signed": self.trust == "signed",
            "trust": self.trust,
            "signed_by": self.signed_by,
            "signature": self.signature,
            "metrics": self.metrics,
        }


def class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
