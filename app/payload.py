"""Request bodies turned into model input, in two dialects.

``/invocations`` reads bodies exactly as `mlflow models serve` does (`app.mlflow_input`,
`app.mlflow_schema`, `app.param_schema`): JSON, ``text/csv`` and Parquet; unknown keys and
columns are ignored; values convert by MLflow's rules.

``/predict`` is our own, stricter contract: JSON with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs`` and optional ``params`` (an object), or
CSV; an unknown key or column is refused by name; every value must already have its
column's type (`InputSchema.frame`).

Both take the numeric fast path (`app.numeric_split`) when it applies; it yields exactly the
frame the general path would build, or steps aside.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd

from app import csv_body, mlflow_input, mlflow_schema, numeric_split
from app.errors import ErrorCode, InvalidInput, PayloadTooLarge, UnsupportedMediaType, quoted
from app.input_schema import InputSchema
from app.param_schema import ParamSchema

FORMATS = mlflow_input.FORMATS
JSON_TYPES = ("application/json", "")
CSV_TYPE = "text/csv"
PARQUET_TYPE = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class ModelInput:
    frame: pd.DataFrame
    params: dict[str, Any] | None
    rows: int
    unwrapped: bool = False  # answer with the bare predictions (MLflow's unwrapped form)


@dataclass(frozen=True)
class Contract:
    """What the served model takes: its input schema and its param schema (either may be
    absent), and the batch limit."""

    schema: InputSchema | None
    params: ParamSchema | None
    max_rows: int


def is_json(content_type: str | None) -> bool:
    mime = _split_content_type(content_type or "")[0]
    return mime in JSON_TYPES or mime.endswith("+json")


def parse_body(body: bytes, content_type: str | None, contract: Contract, *, mlflow: bool) -> ModelInput:
    """The model input for a request body; ``mlflow`` picks the /invocations dialect."""
    mime, charset, others = _split_content_type(content_type or "")
    if charset not in ("", "utf-8", "utf8"):
        raise UnsupportedMediaType("Only UTF-8 bodies are supported.")
    if others and mlflow:  # as MLflow: only charset may qualify the content type
        raise UnsupportedMediaType("The content type has a parameter other than charset.")
    if mime == PARQUET_TYPE and mlflow:
        from app import parquet_body  # its engine is imported only when a Parquet body comes

        frame = parquet_body.read(body, contract.max_rows)
        return _mlflow_result(mlflow_input.ParsedJson(frame, None), contract)
    if not body:
        raise InvalidInput("The request body is empty.", field="body")
    if mime == CSV_TYPE:
        text = csv_body.decode(body)
        if mlflow:
            frame = csv_body.read_as_mlflow(text, contract.schema, contract.max_rows)
            return _mlflow_result(mlflow_input.ParsedJson(frame, None), contract)
        return _strict_csv(text, contract)
    if mime not in JSON_TYPES and not mime.endswith("+json"):
        kinds = "application/json, text/csv or " + PARQUET_TYPE if mlflow else "application/json or text/csv"
        raise UnsupportedMediaType(f"Send {kinds}.")
    schema = contract.schema
    fast_path = schema is not None and schema.all_double and b'"dataframe_split"' in body
    if fast_path:
        fast = numeric_split.from_bytes(body, schema, contract.max_rows)  # type: ignore[arg-type]
        if fast is not None:
            return _fast_result(fast, contract, mlflow=mlflow)
    document = decode(body, mlflow=mlflow)
    if fast_path and b"true" not in body and b"false" not in body:
        fast = numeric_split.from_document(document, schema, contract.max_rows)  # type: ignore[arg-type]
        if fast is not None:
            return _fast_result(fast, contract, mlflow=mlflow)
    return from_document(document, contract, mlflow=mlflow)


def from_document(document: Any, contract: Contract, *, mlflow: bool) -> ModelInput:
    """The general path: a decoded JSON body read in either dialect."""
    if mlflow:
        parsed = mlflow_input.parse_document(
            document, contract.schema, _param_names(contract), contract.max_rows
        )
        return _mlflow_result(parsed, contract)
    return _strict_document(document, contract)


# --- /invocations --------------------------------------------------------------------------


def decode(body: bytes, *, mlflow: bool) -> Any:
    """The JSON document of a body, decoded as the dialect does."""
    return _decode_mlflow(body) if mlflow else _decode_strict(body)


def _decode_mlflow(body: bytes) -> Any:
    """The body as Python's ``json`` reads it, like MLflow: the last of repeated keys wins,
    NaN and Infinity are numbers, integers are exact, UTF-16/32 bodies are detected."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidInput("The body is not valid JSON.", field="body") from None


def _mlflow_result(parsed: mlflow_input.ParsedJson, contract: Contract) -> ModelInput:
    data = parsed.data
    if contract.schema is not None:
        frame = mlflow_schema.enforce(data, contract.schema)
    else:
        frame = mlflow_schema.to_frame(data)
    _check_rows(len(frame), contract.max_rows)
    params = contract.params.enforce(parsed.params) if contract.params is not None else None
    return ModelInput(frame=frame, params=params, rows=len(frame), unwrapped=parsed.unwrapped)


def _param_names(contract: Contract) -> frozenset[str]:
    return contract.params.names if contract.params is not None else frozenset()


# --- fast path -------------------------------------------------------------------------------


def _fast_result(fast: tuple[pd.DataFrame, Any], contract: Contract, *, mlflow: bool) -> ModelInput:
    frame, params = fast
    if mlflow:
        enforced = contract.params.enforce(params) if contract.params is not None else None
    else:
        enforced = _strict_params(params, contract)
    return ModelInput(frame=frame, params=enforced, rows=len(frame))


# --- /predict --------------------------------------------------------------------------------


def _decode_strict(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"The body is not valid JSON ({_json_problem(exc)}).", field="body") from None


def _strict_document(document: Any, contract: Contract) -> ModelInput:
    """/predict's reading of a decoded JSON body."""
    if not isinstance(document, dict):
        raise InvalidInput(
            "The body must be a JSON object with one of: " + ", ".join(FORMATS) + ".", field="body"
        )
    present = [key for key in FORMATS if key in document]
    if len(present) != 1:
        raise InvalidInput("The body must have exactly one of: " + ", ".join(FORMATS) + ".", field="body")
    if any(key not in FORMATS and key != "params" for key in document):
        # Only column names are named back; an unknown top-level key is not echoed.
        raise InvalidInput(
            "The body has an unknown top-level field; allowed: " + ", ".join((*FORMATS, "params")) + ".",
            field="body",
        )
    key = present[0]
    columns, rows = _columns(key, document[key])
    _check_rows(rows, contract.max_rows, field=key)
    params = _strict_params(document.get("params"), contract)
    return ModelInput(frame=_frame(columns, rows, contract.schema, key), params=params, rows=rows)


def _strict_params(params: Any, contract: Contract) -> dict[str, Any] | None:
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("params must be a JSON object.", field="params", code=ErrorCode.INVALID_PARAMS)
    return contract.params.enforce(params) if contract.params is not None else params


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
        raise InvalidInput(
            "dataframe_split must be an object with columns and data.", field="dataframe_split"
        )
    names, rows = data.get("columns"), data.get("data")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInput(
            "dataframe_split.columns must be a list of column names.", field="dataframe_split.columns"
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(
                f"dataframe_split.columns repeats {quoted(name)}.", field="dataframe_split.columns"
            )
        seen.add(name)
    if not isinstance(rows, list):
        raise InvalidInput("dataframe_split.data must be a list of rows.", field="dataframe_split.data")
    width = len(names)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(
                f"dataframe_split.data row {i} must be a list of {width} values.",
                field="dataframe_split.data",
                row=i,
            )
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
            raise InvalidInput(
                f"{key}[{row}] lacks column {quoted(name)} that other records "
                "have: every record needs the same columns.",
                field=key,
                row=row,
            )
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


def _frame(columns: dict[str, list[Any]], rows: int, schema: InputSchema | None, key: str) -> pd.DataFrame:
    if schema is not None:
        return schema.frame(columns, rows, batch_field=key)
    if rows == 0:
        raise InvalidInput("The batch is empty: send at least one row.", field=key)
    return pd.DataFrame(columns)


def _strict_csv(text: str, contract: Contract) -> ModelInput:
    frame = csv_body.read_as_text(text, contract.schema, contract.max_rows)
    columns = {str(name): [_csv_value(v) for v in frame[name].tolist()] for name in frame.columns}
    return ModelInput(
        frame=_frame(columns, len(frame), contract.schema, "body"), params=None, rows=len(frame)
    )


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


# --- shared ----------------------------------------------------------------------------------


def _check_rows(rows: int, max_rows: int, field: str = "body") -> None:
    if rows > max_rows:
        raise PayloadTooLarge(f"The batch has {rows} rows; the limit is {max_rows}.", field=field)


def _split_content_type(value: str) -> tuple[str, str, bool]:
    """(media type, charset, whether any other parameter is present)."""
    parts = [p.strip() for p in value.split(";")]
    charset, others = "", False
    for part in parts[1:]:
        name, _, val = part.partition("=")
        if name.strip().lower() == "charset":
            charset = val.strip().strip('"').lower()
        elif part:
            others = True
    return parts[0].lower(), charset, others


def _json_problem(exc: orjson.JSONDecodeError) -> str:
    message = str(exc.msg) if hasattr(exc, "msg") else "invalid JSON"
    return f"{message} at position {getattr(exc, 'pos', '?')}"


def records_of(values: Any) -> Any:
    """Predictions as JSON-ready values, as MLflow renders them: arrays as (nested) lists,
    a DataFrame as records, a Series as one-key records; anything else as it is."""
    if isinstance(values, pd.DataFrame):
        return values.to_dict(orient="records")
    if isinstance(values, pd.Series):
        return pd.DataFrame(values).to_dict(orient="records")
    if hasattr(values, "tolist"):
        return values.tolist()
    return list(values) if isinstance(values, Sequence) and not isinstance(values, str) else values
