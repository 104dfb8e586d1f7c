"""The model's input signature, compiled once per model into a fast, strict validator.

``InputSchema.frame(columns)`` turns column-oriented request data into the DataFrame the
model expects, or raises ``InvalidInput`` naming the column and row at fault. It does the
work MLflow's per-request schema enforcement does, with numpy doing the type checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from app.errors import InvalidInput, quoted

# MLflow ColSpec type -> (numpy dtype, accepted numpy kinds of the parsed values)
_TYPES: dict[str, tuple[Any, str]] = {
    "double": (np.float64, "fiu"),
    "float": (np.float32, "fiu"),
    "long": (np.int64, "iu"),
    "integer": (np.int32, "iu"),
    "boolean": (np.bool_, "b"),
    "string": (object, "U"),
    "datetime": ("datetime64[ns]", "U"),
}
_KIND_NAMES = {
    "f": "a number",
    "i": "an integer",
    "u": "an integer",
    "b": "a boolean",
    "U": "a string",
    "O": "mixed values",
    "S": "bytes",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class InputSchema:
    columns: tuple[Column, ...]

    @cached_property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @cached_property
    def sorted_names(self) -> list[str]:
        return sorted(c.name for c in self.columns)

    @cached_property
    def all_double(self) -> bool:
        """Every column is a required double: the numeric fast path applies."""
        return bool(self.columns) and all(c.type == "double" and c.required for c in self.columns)

    def to_dict(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "type": c.type, "required": c.required} for c in self.columns]

    @classmethod
    def from_dict(cls, spec: Sequence[Mapping[str, Any]]) -> InputSchema:
        columns = []
        for item in spec:
            col_type = str(item.get("type", "double"))
            if col_type not in _TYPES:
                raise ValueError(f"unsupported column type {col_type!r} in model signature")
            columns.append(Column(str(item["name"]), col_type, bool(item.get("required", True))))
        if not columns:
            raise ValueError("the model signature has no named input columns")
        return cls(tuple(columns))

    @classmethod
    def from_mlflow_signature(cls, signature: Any) -> InputSchema | None:
        """Build from an ``mlflow.models.ModelSignature``; None for tensor or missing schemas."""
        if signature is None or signature.inputs is None or not signature.inputs.has_input_names():
            return None
        spec = []
        for col in signature.inputs.inputs:
            type_name = getattr(col.type, "name", str(col.type))
            spec.append({"name": col.name, "type": type_name, "required": getattr(col, "required", True)})
        return cls.from_dict(spec)

    def frame(
        self, columns: Mapping[str, Sequence[Any]], n_rows: int, batch_field: str = "instances"
    ) -> pd.DataFrame:
        """Validate column-oriented values and build the model's input frame."""
        if n_rows == 0:
            raise InvalidInput("The batch is empty: send at least one row.", field=batch_field)
        known = {c.name for c in self.columns}
        unknown = [name for name in columns if name not in known]
        if unknown:
            # Column names are identifiers: named, bounded and escaped; values never are.
            listed = ", ".join(quoted(name) for name in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            what = "an unknown column" if len(unknown) == 1 else "unknown columns"
            raise InvalidInput(
                f"The input has {what} {listed}{more}; the model takes: {', '.join(self.names)}.",
                field="columns",
            )
        data: dict[str, Any] = {}
        for col in self.columns:
            values = columns.get(col.name)
            if values is None:
                if col.required:
                    raise InvalidInput(f"Missing required column {col.name!r}.", field=col.name)
                values = [None] * n_rows
            data[col.name] = _convert(col, values)
        return pd.DataFrame(data, copy=False)


def _convert(col: Column, values: Sequence[Any]) -> Any:
    dtype, kinds = _TYPES[col.type]
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):
        raise InvalidInput(f"Column {col.name!r} must hold {col.type} values.", field=col.name) from None
    if array.ndim != 1:
        raise InvalidInput(f"Column {col.name!r} must hold one {col.type} per row.", field=col.name)
    if array.dtype.kind in "fiu" and col.type != "boolean" and bool in set(map(type, values)):
        # numpy turns [True, 0.5] into [1.0, 0.5]: a boolean is not a number here.
        row = next(i for i, v in enumerate(values) if type(v) is bool)
        raise InvalidInput(
            f"Column {col.name!r} row {row}: expected {col.type}, got boolean.", field=col.name, row=row
        )
    if array.dtype.kind not in kinds:
        bad_row = _first_bad_row(values, kinds, col.required)
        if bad_row is None:  # only missing values in an optional column
            return pd.array(list(values), dtype=_nullable(col.type))
        raise InvalidInput(
            f"Column {col.name!r} row {bad_row}: expected {col.type}, got {_describe(values[bad_row])}.",
            field=col.name,
            row=bad_row,
        )
    if col.type == "datetime":
        try:
            return pd.to_datetime(array)
        except (ValueError, TypeError):
            raise InvalidInput(f"Column {col.name!r}: not a valid datetime.", field=col.name) from None
    if col.type in ("integer", "float"):
        info = np.iinfo(np.int32) if col.type == "integer" else np.finfo(np.float32)
        if array.size and (array.max() > info.max or array.min() < info.min):
            raise InvalidInput(f"Column {col.name!r}: value out of range for {col.type}.", field=col.name)
    converted = array.astype(dtype, copy=False)
    if converted.dtype.kind == "f" and not np.isfinite(converted).all():
        row = int(np.flatnonzero(~np.isfinite(converted))[0])
        raise InvalidInput(
            f"Column {col.name!r} row {row}: NaN and infinity are not allowed.", field=col.name, row=row
        )
    return converted


def _nullable(col_type: str) -> str:
    return {
        "double": "Float64",
        "float": "Float32",
        "long": "Int64",
        "integer": "Int32",
        "boolean": "boolean",
        "string": "string",
    }.get(col_type, "object")


def _first_bad_row(values: Sequence[Any], kinds: str, required: bool) -> int | None:
    for i, value in enumerate(values):
        if value is None and not required:
            continue
        kind = np.asarray(value).dtype.kind if not isinstance(value, (list, dict)) else "O"
        if kind not in kinds:
            return i
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return _KIND_NAMES.get(np.asarray(value).dtype.kind, type(value).__name__)
