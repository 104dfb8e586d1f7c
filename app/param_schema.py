"""Inference ``params`` checked against the model's param schema, by MLflow's rules.

The schema comes from the signature's ``params`` (``LoadedModel.signature``). As in MLflow
(``mlflow.models.utils._enforce_params_schema``):

- a model without a param schema ignores ``params``, whatever they are;
- otherwise ``params`` must be an object; names the schema does not declare are ignored,
  declared ones that are absent take their default, ``null`` stays ``null``;
- a scalar param accepts its own JSON type, and integers for ``float``/``double`` (a boolean
  is not a number); a ``datetime`` accepts anything numpy reads as a date or time; a param
  with shape ``(-1,)`` takes a flat list whose items follow the same rules.

Refusals are ``INVALID_PARAMETER_VALUE`` naming the param, never its value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.errors import ErrorCode, InvalidInput, quoted

# type -> the Python types a JSON value may have, and the Python type it becomes.
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (float, int),
    "double": (float, int),
    "string": (str,),
    "binary": (),
}
_BECOMES: dict[str, type] = {
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": float,
    "double": float,
    "string": str,
}


class _Refused(Exception):
    pass


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str  # an MLflow DataType name, or "object"
    default: Any
    is_list: bool  # shape (-1,)

    def enforce(self, value: Any) -> Any:
        if self.is_list:
            if not isinstance(value, list) or np.ndim(_array(value)) != 1:
                raise _Refused
            return [self._scalar(v) for v in value]
        return self._scalar(value)

    def _scalar(self, value: Any) -> Any:
        if value is None:
            return None
        if self.type == "object":
            if not isinstance(value, dict):
                raise _Refused
            return value
        if self.type == "datetime":
            try:
                moment = np.datetime64(value).item()
            except Exception:  # noqa: BLE001 - numpy cannot read it as a date
                raise _Refused from None
            if isinstance(moment, int):  # a bare number is not a date
                raise _Refused
            return moment
        if type(value) not in _ACCEPTS.get(self.type, ()):
            raise _Refused
        return _BECOMES[self.type](value)


@dataclass(frozen=True)
class ParamSchema:
    specs: tuple[ParamSpec, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.specs)

    @classmethod
    def from_signature(cls, signature: Mapping[str, Any] | None) -> ParamSchema | None:
        """The param schema of a signature dict (``params`` as JSON text or a list)."""
        raw = signature.get("params") if signature else None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return None
        if not isinstance(raw, list) or not raw:
            return None
        specs = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            kind = item.get("type")
            shape = item.get("shape")
            specs.append(
                ParamSpec(
                    item["name"],
                    kind if isinstance(kind, str) else "object",
                    item.get("default"),
                    shape is not None and list(shape) == [-1],
                )
            )
        return cls(tuple(specs)) if specs else None

    def enforce(self, params: Any) -> dict[str, Any]:
        """The params the model receives: declared names only, defaults filled in."""
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise InvalidInput("params must be a JSON object.", field="params", code=ErrorCode.INVALID_PARAMS)
        result: dict[str, Any] = {}
        for spec in self.specs:
            if spec.name not in params:
                result[spec.name] = spec.default
                continue
            try:
                result[spec.name] = spec.enforce(params[spec.name])
            except _Refused:
                shape = "a list of " if spec.is_list else ""
                raise InvalidInput(
                    f"Param {quoted(spec.name)} must be {shape}{spec.type}.",
                    field=f"params.{spec.name}",
                    code=ErrorCode.INVALID_PARAMS,
                ) from None
        return result


def _array(value: list[Any]) -> Any:
    try:
        return np.array(value)
    except ValueError:  # ragged
        return np.empty((0, 0))
