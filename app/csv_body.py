"""CSV request bodies: a header row, then data rows (``text/csv``).

pandas renames repeated header names (``a``, ``a.1``, ``a.2`` ...) in quadratic time: a
header of 60,000 copies of ``a`` (234 KiB) took 37 s of CPU. So the header is read first,
with the standard library's linear CSV reader, and refused when a name repeats or when there
are more names than the signature's columns plus ``MAX_EXTRA_COLUMNS`` (room for the index
column ``DataFrame.to_csv()`` writes and a few ignored ones) -- before pandas sees the body.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd

from app.errors import InvalidInput, PayloadTooLarge
from app.input_schema import InputSchema
from app.mlflow_schema import PANDAS_TYPES

MAX_EXTRA_COLUMNS = 16
MAX_COLUMNS_WITHOUT_SCHEMA = 1024


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The CSV body is not valid UTF-8.", field="body") from None


def check_header(text: str, schema: InputSchema | None) -> list[str]:
    """The header's names, refused (400) when one repeats or when there are too many."""
    limit = len(schema.columns) + MAX_EXTRA_COLUMNS if schema is not None else MAX_COLUMNS_WITHOUT_SCHEMA
    try:
        header = next((row for row in csv.reader(io.StringIO(text)) if row), None)
    except csv.Error:
        raise InvalidInput("The CSV header row cannot be read.", field="header") from None
    if not header:
        raise InvalidInput("The body is not valid CSV with a header row.", field="body")
    if len(header) > limit:
        raise InvalidInput(
            f"The CSV header has {len(header)} columns; at most {limit} are accepted for this model.",
            field="header",
        )
    if len(set(header)) != len(header):
        raise InvalidInput("The CSV header repeats a column name.", field="header")
    return header


def read_as_mlflow(text: str, schema: InputSchema | None, max_rows: int) -> pd.DataFrame:
    """The frame `mlflow models serve` reads: each signature column parsed as its pandas type."""
    check_header(text, schema)
    dtype = {c.name: PANDAS_TYPES[c.type] for c in schema.columns} if schema else None
    return _limited(_read(text, dtype=dtype, nrows=max_rows + 1), max_rows)


def read_as_text(text: str, schema: InputSchema | None, max_rows: int) -> pd.DataFrame:
    """Every cell as text, empty cells as empty strings (/predict converts them itself)."""
    check_header(text, schema)
    return _limited(_read(text, dtype=str, keep_default_na=False, nrows=max_rows + 1), max_rows)


def _read(text: str, **options: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), **options)
    except Exception:  # noqa: BLE001 - pandas' reason quotes the offending cell
        raise InvalidInput(
            "The body is not valid CSV with a header row, or a cell does not parse as its column's type.",
            field="body",
        ) from None


def _limited(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    if len(frame) > max_rows:
        raise PayloadTooLarge(f"The batch has more than {max_rows} rows.", field="body")
    return frame
