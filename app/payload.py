"""Request bodies in the formats `mlflow models serve` accepts, turned into model input.

JSON: exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``,
with optional ``params``. CSV: a header row and data rows (``text/csv``).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd

from app import numeric_split
from app.errors import ApiError, InvalidInput, PayloadTooLarge
from app.input_schema import InputSchema

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON_TYPES = ("application/json", "")
CSV_TYPES = ("text/csv",)


@dataclass(frozen=True)
class ModelInput:
    frame: pd.DataFrame
    params: dict[str, Any] | None
    rows: int


def parse_body(body: bytes, content_type: str | None, schema: InputSchema | None,
               max_rows: int) -> ModelInput:
    mime, charset = _split_content_type(content_type or "")
    if charset not in ("", "utf-8", "utf8"):
        raise ApiError(415, "unsupported_media_type", "Only UTF-8 bodies are supported.",
                       field="content-type")
    if not body:
        raise InvalidInput("The request body is empty.", field="body")
    if mime in CSV_TYPES:
        return _from_csv(body, schema, max_rows)
    if mime not in JSON_TYPES and not mime.endswith("+json"):
        raise ApiError(415, "unsupported_media_type",
                       "Send application/json or text/csv.", field="content-type")
    fast_path = schema is not None and schema.all_double and b'"dataframe_split"' in body
    if fast_path:
        fast = numeric_split.from_bytes(body, schema, max_rows)
        if fast is not None:
            return ModelInput(frame=fast[0], params=fast[1], rows=len(fast[0]))
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"The body is not valid JSON ({_json_problem(exc)}).", field="body") from None
    if fast_path and b"true" not in body and b"false" not in body:
        fast = numeric_split.from_document(document, schema, max_rows)
        if fast is not None:
            return ModelInput(frame=fast[0], params=fast[1], rows=len(fast[0]))
    return from_document(document, schema, max_rows)


def from_document(document: Any, schema: InputSchema | None, max_rows: int) -> ModelInput:
    if not isinstance(document, dict):
        raise InvalidInput("The body must be a JSON object with one of: " + ", ".join(FORMATS) + ".",
                           field="body")
    present = [key for key in FORMATS if key in document]
    if len(present) != 1:
        raise InvalidInput("The body must have exactly one of: " + ", ".join(FORMATS) + ".",
                           field="body")
    if set(document) - set(FORMATS) - {"params"}:
        # The unknown key is request data: it is never echoed back.
        raise InvalidInput("The body has an unknown top-level field; allowed: "
                           + ", ".join((*FORMATS, "params")) + ".", field="body")
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("params must be a JSON object.", field="params")
    key = present[0]
    columns, rows = _columns(key, document[key])
    if rows > max_rows:
        raise PayloadTooLarge(f"The batch has {rows} rows; the limit is {max_rows}.", field=key)
    return ModelInput(frame=_frame(columns, rows, schema, key), params=params, rows=rows)


def _columns(key: str, data: Any) -> tuple[dict[str, list[Any]], int]:
    if key == "dataframe_split":
        return _split_columns(data)
    if key == "dataframe_records" or isinstance(data, list):
        return _record_columns(key, data)
    if isinstance(data, dict):  # instances/inputs as {column: [values]}
        return _dict_columns(key, data)
    raise InvalidInput(f"{key} must be a list of records or an object of columns.", field=key)


def _split_columns(data: Any) -> tuple[dict[str, list[Any]], int]:
    if not isinstance(data, dict):
        raise InvalidInput("dataframe_split must be an object with columns and data.",
                           field="dataframe_split")
    names, rows = data.get("columns"), data.get("data")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInput("dataframe_split.columns must be a list of column names.",
                           field="dataframe_split.columns")
    if len(set(names)) != len(names):
        raise InvalidInput("dataframe_split.columns has a repeated name.", field="dataframe_split.columns")
    if not isinstance(rows, list):
        raise InvalidInput("dataframe_split.data must be a list of rows.", field="dataframe_split.data")
    width = len(names)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(f"dataframe_split.data row {i} must be a list of {width} values.",
                               field="dataframe_split.data", row=i)
    columns = {name: [row[j] for row in rows] for j, name in enumerate(names)}
    return columns, len(rows)


def _record_columns(key: str, records: Any) -> tuple[dict[str, list[Any]], int]:
    if not isinstance(records, list):
        raise InvalidInput(f"{key} must be a list of records.", field=key)
    names: dict[str, None] = {}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInput(f"{key}[{i}] must be an object of column values.", field=key, row=i)
        for name in record:
            names.setdefault(name, None)
    missing = object()
    columns: dict[str, list[Any]] = {}
    for name in names:
        values = [r.get(name, missing) for r in records]
        if any(v is missing for v in values):
            row = next(i for i, v in enumerate(values) if v is missing)
            raise InvalidInput(f"{key}[{row}] lacks a column other records have: every record "
                               "needs the same columns.", field=key, row=row)
        columns[name] = values
    return columns, len(records)


def _dict_columns(key: str, data: Mapping[str, Any]) -> tuple[dict[str, list[Any]], int]:
    lengths = set()
    columns: dict[str, list[Any]] = {}
    for name, values in data.items():
        if not isinstance(values, list):
            values = [values]
        lengths.add(len(values))
        columns[name] = values
    if len(lengths) > 1:
        raise InvalidInput(f"All columns in {key} must have the same length.", field=key)
    return columns, lengths.pop() if lengths else 0


def _frame(columns: dict[str, list[Any]], rows: int, schema: InputSchema | None,
           key: str) -> pd.DataFrame:
    if schema is not None:
        return schema.frame(columns, rows, batch_field=key)
    if rows == 0:
        raise InvalidInput("The batch is empty: send at least one row.", field=key)
    return pd.DataFrame(columns)


def _from_csv(body: bytes, schema: InputSchema | None, max_rows: int) -> ModelInput:
    try:
        frame = pd.read_csv(io.BytesIO(body), nrows=max_rows + 1, dtype=str,
                            keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        raise InvalidInput("The body is not valid CSV with a header row.", field="body") from None
    if len(frame) > max_rows:
        raise PayloadTooLarge(f"The batch has more than {max_rows} rows.", field="body")
    columns = {str(name): [_csv_value(v) for v in frame[name].tolist()] for name in frame.columns}
    return ModelInput(frame=_frame(columns, len(frame), schema, "body"), params=None, rows=len(frame))


def _csv_value(text: str) -> Any:
    if text == "":
        return None
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def _split_content_type(value: str) -> tuple[str, str]:
    parts = [p.strip() for p in value.split(";")]
    charset = ""
    for part in parts[1:]:
        name, _, val = part.partition("=")
        if name.strip().lower() == "charset":
            charset = val.strip().strip('"').lower()
    return parts[0].lower(), charset


def _json_problem(exc: orjson.JSONDecodeError) -> str:
    message = str(exc.msg) if hasattr(exc, "msg") else "invalid JSON"
    return f"{message} at position {getattr(exc, 'pos', '?')}"


def records_of(values: Sequence[Any]) -> list[Any]:
    """Predictions as JSON-ready Python values (numpy scalars and arrays unwrapped)."""
    return values.tolist() if hasattr(values, "tolist") else list(values)
