"""JSON request bodies read the way `mlflow models serve` reads them (/invocations).

The body must be a JSON object. Exactly one of ``dataframe_split``, ``dataframe_records``,
``instances``, ``inputs`` holds the data; ``params`` is taken aside and every other key is
ignored. A body with ``messages``, ``prompt`` or ``input`` is MLflow's unwrapped form: the
whole object (minus declared params) is one input and the answer is the bare predictions.

Per format, as in MLflow (mlflow.utils.proto_json_utils):

- ``dataframe_split`` (``data``, optional ``columns`` and ``index``) and ``dataframe_records``
  become a pandas frame, then each signature column present is cast to its pandas type
  (``astype``; ``to_datetime`` for datetimes). pandas casts as pandas does: ``"1.5"`` to
  1.5, ``3.7`` to 3 in a long column, ``"false"`` to True in a boolean column.
- ``instances`` (a list of records) converts every value through numpy's type of its column
  (``numpy.array([value], dtype)``) and stacks each column into an array.
- ``inputs``, and ``instances`` that are not records, convert whole columns (an object of
  columns), each record (a list of records) or the value (anything else) the same way.

`app.mlflow_schema.enforce` then applies the signature. Errors here are MLflow's
``BAD_REQUEST`` and name the format key or column, never a value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.errors import InvalidInput, PayloadTooLarge, SchemaMismatch, quoted
from app.input_schema import InputSchema
from app.mlflow_schema import NUMPY_TYPES, PANDAS_TYPES

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
UNWRAPPED_KEYS = ("messages", "prompt", "input")
_SPLIT_KEYS = {"columns", "data", "index"}


@dataclass(frozen=True)
class ParsedJson:
    data: Any  # what MLflow hands to the model: a frame, dict, list, array or scalar
    params: Any  # the raw ``params`` value; None when absent
    unwrapped: bool = False  # MLflow's unwrapped form: answer with the bare predictions


def parse_document(
    document: Any, schema: InputSchema | None, param_names: Collection[str], max_rows: int
) -> ParsedJson:
    if not isinstance(document, dict):
        raise InvalidInput(
            "The body must be a JSON object with one of: " + ", ".join(FORMATS) + ".", field="body"
        )
    if any(key in document for key in UNWRAPPED_KEYS):
        data = {k: v for k, v in document.items() if k not in param_names}
        given = {k: v for k, v in document.items() if k in param_names}
        return ParsedJson(data, given, unwrapped=True)
    present = [key for key in FORMATS if key in document]
    if len(present) != 1:
        raise InvalidInput("The body must have exactly one of: " + ", ".join(FORMATS) + ".", field="body")
    key = present[0]
    value = document[key]
    if isinstance(value, list) and len(value) > max_rows:
        raise PayloadTooLarge(f"The batch has {len(value)} rows; the limit is {max_rows}.", field=key)
    params = document.get("params")
    if key == "dataframe_split":
        return ParsedJson(_cast(_split_frame(value, max_rows), schema, key), params)
    if key == "dataframe_records":
        return ParsedJson(_cast(_records_frame(value), schema, key), params)
    if key == "inputs":
        return ParsedJson(cast_values(value, schema, key), params)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return ParsedJson(_same_lengths(_instance_columns(value, schema), schema), params)
    return ParsedJson(_same_lengths(cast_values(value, schema, key), schema), params)


def _split_frame(split: Any, max_rows: int) -> pd.DataFrame:
    if not isinstance(split, dict) or "data" not in split or set(split) - _SPLIT_KEYS:
        raise InvalidInput(
            "dataframe_split must be an object with data and optionally columns and index.",
            field="dataframe_split",
        )
    if isinstance(split["data"], list) and len(split["data"]) > max_rows:
        raise PayloadTooLarge(
            f"The batch has {len(split['data'])} rows; the limit is {max_rows}.", field="dataframe_split"
        )
    try:
        return pd.DataFrame(data=split["data"], columns=split.get("columns"), index=split.get("index"))
    except Exception:  # noqa: BLE001 - pandas' reason may quote the data
        raise InvalidInput(
            "dataframe_split is not a valid split-oriented table (data rows must match columns and index).",
            field="dataframe_split",
        ) from None


def _records_frame(records: Any) -> pd.DataFrame:
    if not isinstance(records, list):
        raise InvalidInput("dataframe_records must be a list of records.", field="dataframe_records")
    try:
        return pd.DataFrame(data=records)
    except Exception:  # noqa: BLE001
        raise InvalidInput(
            "dataframe_records is not a valid list of records.", field="dataframe_records"
        ) from None


def _cast(frame: pd.DataFrame, schema: InputSchema | None, key: str) -> pd.DataFrame:
    """Cast each signature column present to its pandas type, as MLflow's parser does."""
    if schema is None:
        return frame
    present = set(frame.columns)
    for col in schema.columns:
        if col.name not in present:
            continue
        if isinstance(frame[col.name], pd.DataFrame):
            raise SchemaMismatch(f"Column {quoted(col.name)} appears more than once.", field=col.name)
        try:
            if col.type == "datetime":
                frame[col.name] = pd.to_datetime(frame[col.name])
            elif col.type != "string" or not isinstance(frame[col.name].dtype, pd.StringDtype):
                frame[col.name] = frame[col.name].astype(PANDAS_TYPES[col.type])
        except Exception:  # noqa: BLE001 - the reason quotes the offending value
            raise InvalidInput(
                f"Column {quoted(col.name)} cannot be converted to {col.type}.", field=col.name
            ) from None
    return frame


def _instance_columns(records: list[Any], schema: InputSchema | None) -> dict[Any, Any]:
    types = _types(schema)
    columns: dict[Any, list[Any]] = defaultdict(list)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInput(f"instances[{i}] must be an object like the others.", field="instances", row=i)
        for name, value in record.items():
            columns[name].append(convert_value(value, types.get(name), name))
    stacked = {}
    for name, values in columns.items():
        try:
            stacked[name] = np.array(values)
        except Exception:  # noqa: BLE001 - ragged nested values
            raise InvalidInput(
                f"Column {quoted(name)} holds values of different shapes.", field=str(name)
            ) from None
    return stacked


def cast_values(data: Any, schema: InputSchema | None, key: str) -> Any:
    """Columns, records or a bare value converted through numpy's type of their column."""
    types = _types(schema)
    if len(types) == 1 and isinstance(data, list) and not any(isinstance(x, dict) for x in data):
        data = {next(iter(types)): data}  # a one-column signature: the list is that column
    if isinstance(data, dict):
        return {name: convert_value(values, types.get(name), name) for name, values in data.items()}
    first = schema.columns[0].type if schema is not None else None
    if isinstance(data, list) and all(isinstance(x, dict) for x in data):
        return [
            {name: convert_value(v, types.get(name), name) for name, v in record.items()} for record in data
        ]
    return convert_value(data, first, key)


def convert_value(value: Any, col_type: str | None, name: Any) -> Any:
    """``value`` (a scalar or a list) as numpy converts it to its column's type."""
    try:
        if col_type is None:
            return np.array(value)
        dtype = NUMPY_TYPES[col_type]
        with np.errstate(all="ignore"):  # an overflow converts as in MLflow, without a warning
            if isinstance(value, (list, np.ndarray)):
                return np.array(value, dtype)
            return np.array([value], dtype)[0]
    except Exception:  # noqa: BLE001 - numpy's reason quotes the value
        what = f"column {quoted(name)}" if col_type is not None else quoted(name)
        raise InvalidInput(
            f"A value of {what} cannot be converted to {col_type or 'an array'}.", field=str(name)
        ) from None


def _same_lengths(data: Any, schema: InputSchema | None) -> Any:
    """``instances`` columns must have one length (MLflow checks the signature's required
    columns, or every column without a signature)."""
    if not isinstance(data, dict):
        return data
    names = [c.name for c in schema.columns if c.required] if schema is not None else list(data)
    arrays = [data[n] for n in names if n in data and isinstance(data[n], (list, np.ndarray))]
    if any(np.ndim(a) == 0 for a in arrays) or len({len(a) for a in arrays}) > 1:
        raise InvalidInput("The columns in instances have different lengths.", field="instances")
    return data


def _types(schema: InputSchema | None) -> dict[str, str]:
    return {c.name: c.type for c in schema.columns} if schema is not None else {}
