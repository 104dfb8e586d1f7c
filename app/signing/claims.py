"""The serving claims inside a signature: what the signer vouches for besides file digests."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

CLAIMS_SCHEMA = 1
_MAX_TYPES = 500


@dataclass(frozen=True)
class ServingClaims:
    """Believed only from a verified signature, never from tags, pointers or MLmodel.

    ``version`` names a registry version; a run artifact has ``run_id``/``artifact_path``
    instead. ``format`` is the serialization of the flavor's model file (skops, pickle,
    cloudpickle, ...); ``trusted_types`` are the skops types the signer confirmed.
    """

    model_name: str
    flavor: str
    format: str
    version: str | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    trusted_types: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    signed_at: str | None = None
    schema: int = CLAIMS_SCHEMA

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["trusted_types"] = sorted(self.trusted_types)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServingClaims:
        if data.get("schema") != CLAIMS_SCHEMA:
            raise ValueError(f"unknown claims schema {data.get('schema')!r}")
        types = data.get("trusted_types", [])
        if (
            not isinstance(types, list)
            or len(types) > _MAX_TYPES
            or not all(isinstance(t, str) and t for t in types)
        ):
            raise ValueError("trusted_types must be a list of type names")
        metrics = data.get("metrics", {})
        if not isinstance(metrics, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for k, v in metrics.items()
        ):
            raise ValueError("metrics must map names to finite numbers")
        return cls(
            model_name=_text(data, "model_name", required=True),
            flavor=_text(data, "flavor", required=True),
            format=_text(data, "format", required=True),
            version=_text(data, "version"),
            run_id=_text(data, "run_id"),
            artifact_path=_text(data, "artifact_path"),
            trusted_types=tuple(types),
            metrics={k: float(v) for k, v in metrics.items()},
            signed_at=_text(data, "signed_at"),
        )


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> Any:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 1000:
        raise ValueError(f"{key} must be a non-empty string")
    return value
