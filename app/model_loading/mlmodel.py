"""Reading an MLflow ``MLmodel`` file (after its digest has been checked) without ``import mlflow``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.input_schema import InputSchema
from app.model_loading.types import LoadError

MAX_MLMODEL_BYTES = 1024 * 1024
_SIMPLE_COLUMN_KEYS = {"name", "type", "required"}


@dataclass(frozen=True)
class MLmodel:
    flavors: dict[str, dict[str, Any]]
    signature: dict[str, Any] | None  # as stored: inputs/outputs/params are JSON strings

    @property
    def signature_json(self) -> dict[str, Any] | None:
        """The signature with its inputs/outputs/params decoded (what /model/info shows)."""
        if self.signature is None:
            return None
        out: dict[str, Any] = {}
        for key in ("inputs", "outputs", "params"):
            value = self.signature.get(key)
            try:
                out[key] = json.loads(value) if isinstance(value, str) else value
            except ValueError:
                out[key] = None
        return out

    def input_schema(self) -> InputSchema | None:
        """The compiled input schema; columns MLflow needs to interpret go through mlflow."""
        if self.signature is None or self.signature.get("inputs") is None:
            return None
        columns = self.signature_json["inputs"] if self.signature_json else None
        if not isinstance(columns, list) or not columns:
            raise LoadError("the model signature's inputs are not a list of columns")
        simple = all(
            isinstance(c, dict)
            and set(c) <= _SIMPLE_COLUMN_KEYS
            and isinstance(c.get("name"), str)
            and isinstance(c.get("type"), str)
            and c["type"] != "tensor"
            for c in columns
        )
        try:
            if simple:
                return InputSchema.from_dict(columns)
            from mlflow.models.signature import ModelSignature

            return InputSchema.from_mlflow_signature(ModelSignature.from_dict(self.signature))
        except (ValueError, KeyError, TypeError) as exc:
            raise LoadError(f"the model signature cannot be served: {exc}") from None


def parse(data: bytes) -> MLmodel:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        meta = yaml.load(data, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        raise LoadError("MLmodel is not YAML") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("flavors"), dict):
        raise LoadError("MLmodel has no flavors")
    flavors = {str(k): v for k, v in meta["flavors"].items() if isinstance(v, dict)}
    signature = meta.get("signature")
    if signature is not None and not isinstance(signature, dict):
        raise LoadError("MLmodel's signature is not a mapping")
    return MLmodel(flavors=flavors, signature=signature)
