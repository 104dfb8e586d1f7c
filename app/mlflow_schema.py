"""MLflow's schema enforcement for column signatures, restated for /invocations.

`mlflow models serve` hands the parsed request to ``PyFuncModel.predict``, which coerces it
into a DataFrame and enforces the signature (``mlflow.models.utils._enforce_schema``) before
the model sees it. ``enforce`` does the same, by the same rules:

- the input becomes a DataFrame: a dict of scalars is one row, a dict of arrays is columns,
  a list is rows;
- a required column that is missing is refused; extra columns are dropped; the result has the
  signature's columns in the signature's order (an absent optional column stays absent);
- each column's dtype must equal the declared type or convert safely: object columns are
  inferred first; strings pass as objects; same-kind upcasts (int32 -> long, float -> double),
  (u)int up to 6 bytes -> double, int64 -> float/double when every value is 0, 1 or null;
  datetimes of any precision -> ``datetime64[ns]``, objects -> datetime when they parse;
  object booleans pass unchanged; object values for a double column go through
  ``pandas.to_numeric``. Anything else is refused.

Every refusal is a ``SchemaMismatch`` (MLflow: ``INVALID_PARAMETER_VALUE``) naming the column,
never its values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from app.errors import SchemaMismatch, quoted
from app.input_schema import Column, InputSchema

# MLflow DataType -> the numpy dtype it converts values to, and the pandas dtype of a column.
NUMPY_TYPES: dict[str, np.dtype[Any]] = {
    "double": np.dtype(np.float64),
    "float": np.dtype(np.float32),
    "long": np.dtype(np.int64),
    "integer": np.dtype(np.int32),
    "boolean": np.dtype(np.bool_),
    "string": np.dtype(np.str_),
    "datetime": np.dtype("datetime64[ns]"),
}
PANDAS_TYPES: dict[str, np.dtype[Any]] = {**NUMPY_TYPES, "string": np.dtype(object)}


def enforce(model_input: Any, schema: InputSchema) -> pd.DataFrame:
    """The DataFrame MLflow would pass to the model for this parsed input."""
    frame = to_frame(model_input)
    present = set(frame.columns)
    missing = [c.name for c in schema.columns if c.required and c.name not in present]
    if missing:
        names = ", ".join(quoted(name) for name in missing[:10])
        raise SchemaMismatch(f"Missing required column(s): {names}.", field=missing[0])
    columns: dict[str, pd.Series] = {}
    for col in schema.columns:
        if col.name not in present:
            continue
        values = frame[col.name]
        if isinstance(values, pd.DataFrame):
            raise SchemaMismatch(f"Column {quoted(col.name)} appears more than once.", field=col.name)
        columns[col.name] = enforce_column(col, values)
    try:
        return pd.DataFrame(columns)
    except Exception:  # noqa: BLE001 - columns of different lengths or indexes
        raise SchemaMismatch("The input's columns do not line up into rows.", field="columns") from None


def to_frame(model_input: Any) -> pd.DataFrame:
    """MLflow's coercion of a parsed input (frame, dict, list, array or scalar) to a frame."""
    try:
        if isinstance(model_input, pd.DataFrame):
            return model_input
        if isinstance(model_input, pd.Series):
            return pd.DataFrame(model_input)
        if np.isscalar(model_input):
            return pd.DataFrame([model_input])
        if isinstance(model_input, Mapping):
            return _dict_frame(dict(model_input))
        if isinstance(model_input, (list, np.ndarray)):
            return pd.DataFrame(model_input)
    except Exception:  # noqa: BLE001 - pandas refuses the shape; the reason may quote data
        raise SchemaMismatch("The input cannot be read as a table of columns.", field="body") from None
    raise SchemaMismatch("The input must be a table: records, columns or rows.", field="body")


def _dict_frame(data: dict[Any, Any]) -> pd.DataFrame:
    def scalar(value: Any) -> bool:
        return value is None or bool(np.isscalar(value))

    if all(scalar(v) or (isinstance(v, list) and all(isinstance(i, str) for i in v)) for v in data.values()):
        return pd.DataFrame([data])  # one record; a list of strings is one cell
    if all(isinstance(v, np.ndarray) and v.dtype.type is np.str_ and v.shape == () for v in data.values()):
        return pd.DataFrame([data])
    if any(isinstance(v, np.ndarray) and v.ndim > 1 for v in data.values()):
        data = {k: v.tolist() if isinstance(v, np.ndarray) and v.ndim > 1 else v for k, v in data.items()}
    return pd.DataFrame(data)


def enforce_column(col: Column, values: pd.Series) -> pd.Series:
    try:
        return _convert(col.type, values)
    except Exception:  # noqa: BLE001 - an unsafe or failed cast; the reason may quote data
        raise _mismatch(col, values) from None


def _convert(col_type: str, values: pd.Series) -> pd.Series:
    if values.dtype == object and col_type != "string":
        values = values.infer_objects()
    if col_type == "string" and (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
        return values  # objects of any kind pass as strings, as in MLflow
    target = NUMPY_TYPES[col_type]
    if values.dtype in (PANDAS_TYPES[col_type], target):
        return values
    if col_type == "datetime" and values.dtype.kind == "M":
        return values.astype(target)  # tz-aware values raise: refused
    if col_type == "datetime" and values.dtype == object:
        return values.astype(target, errors="raise")
    if col_type == "boolean" and values.dtype == object:
        return values  # left as is: a cast would turn None into False
    if col_type == "double" and values.dtype == object:
        return pd.to_numeric(values, errors="raise")
    if _is_upcast(values.dtype, target):
        return values.astype(target, errors="raise")
    if values.dtype == np.int64 and target.kind == "f" and all(pd.isnull(x) or x in (0, 1) for x in values):
        return values.astype(target, errors="raise")
    raise TypeError("not a safe conversion")


def _is_upcast(source: np.dtype[Any], target: np.dtype[Any]) -> bool:
    if source.kind == target.kind:
        return source.itemsize <= target.itemsize
    if source.kind == "u" and target.kind == "i":
        return source.itemsize < target.itemsize
    if source.kind in "iu" and target == np.float64:
        return source.itemsize <= 6
    return False


def _mismatch(col: Column, values: pd.Series) -> SchemaMismatch:
    return SchemaMismatch(
        f"Column {quoted(col.name)} cannot be converted safely from {_dtype_name(values)} to {col.type}.",
        field=col.name,
    )


def _dtype_name(values: pd.Series) -> str:
    return "mixed or text values" if values.dtype == object else str(values.dtype)
