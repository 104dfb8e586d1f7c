"""What a load produces (a servable model) and what each attempt records."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from app.input_schema import InputSchema

Source = Literal["registry", "blob_fallback"]


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
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    loaded_monotonic: float = field(default_factory=time.monotonic)

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
            "signature": self.signature,
            "metrics": self.metrics,
        }


def class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
