"""Request cases for the differential test against `mlflow models serve`.

They follow the case families of MLflow's own scoring-server tests
(tests/pyfunc/test_scoring_server.py: malformed and non-object JSON, wrong orientations, split
with a bad index, unnamed frames, empty CSV, charsets and content-type parameters, TF-serving
instances/inputs, split/records/inputs of every column type, out-of-range values pandas
coerces, param schemas, the scoring client's own body) plus variations: every column type x
a range of odd values x every JSON format, repeated keys, nested cells, extra and missing
columns, unknown keys, params of every kind, CSV as pandas writes it, Parquet, encodings,
sizes and content types.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.lifecycle.training import FEATURES
from tests.parity.models import ROW as MIXED_ROW
from tests.support.models import ROW as NUMERIC_ROW

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    content_type: str | None = JSON


def _json(name: str, document: Any, content_type: str | None = JSON) -> Case:
    return Case(name, json.dumps(document).encode(), content_type)


def _raw(name: str, text: str, content_type: str | None = JSON) -> Case:
    return Case(name, text.encode(), content_type)


def _split(rows: list[dict[str, Any]], columns: list[str] | None = None) -> dict[str, Any]:
    columns = columns or list(rows[0])
    return {"columns": columns, "data": [[r.get(c) for c in columns] for r in rows]}


def _csv(frame: pd.DataFrame, **options: Any) -> bytes:
    return frame.to_csv(**options).encode()


def _parquet(frame: pd.DataFrame, **options: Any) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, **options)
    return buffer.getvalue()


# --- the all-double model (diabetes Ridge) --------------------------------------------------


def numeric_cases() -> list[Case]:
    row, rows = NUMERIC_ROW, [NUMERIC_ROW, {k: v * 2 for k, v in NUMERIC_ROW.items()}]
    frame = pd.DataFrame(rows)[FEATURES]
    split = _split(rows, FEATURES)
    values = [list(r.values()) for r in rows]
    data, first, second = json.dumps(values), json.dumps(values[:1]), json.dumps(values[1:])
    names, tail = json.dumps(FEATURES), ", ".join(map(str, values[0][1:]))
    cases = [
        # MLflow's own families
        Case("malformed json", b"this is,,,, not valid json"),
        _json("json number", 1),
        _json("json string", "1"),
        _json("json list", [1]),
        _json("no format key", {"not": "a serialized dataframe"}),
        _json("two format keys", {"dataframe_records": [], "dataframe_split": {"data": []}}),
        _json("records given a split dict", {"dataframe_records": frame.to_dict(orient="split")}),
        _json("split given records", {"dataframe_split": frame.to_dict(orient="records")}),
        _json(
            "split index shorter than data", {"dataframe_split": {"index": [1, 2], "data": [[1], [2], [3]]}}
        ),
        _json("unnamed frame", {"dataframe_split": pd.DataFrame(np.arange(10.0)).to_dict(orient="split")}),
        Case("empty csv", b"", CSV),
        _json("records", {"dataframe_records": rows}),
        _json("records charset=UTF-8", {"dataframe_records": rows}, JSON + "; charset=UTF-8"),
        _json("split", {"dataframe_split": split}),
        _json("split charset=UTF-8", {"dataframe_split": split}, JSON + "; charset=UTF-8"),
        _json("split orient=split with index", {"dataframe_split": frame.to_dict(orient="split")}),
        _json("unsupported content type", {"dataframe_split": split}, "not_a_supported_content_type"),
        _json("unknown content-type parameter", {"dataframe_split": split}, JSON + "; something=something"),
        _json("instances as rows of numbers", {"instances": values}),
        _json("instances records", {"instances": rows}),
        _json("inputs records", {"inputs": rows}),
        _json("inputs columns", {"inputs": frame.to_dict(orient="list")}),
        _json("instances columns", {"instances": frame.to_dict(orient="list")}),
        _json("client body (dump_input_data)", {"dataframe_split": frame.to_dict(orient="split")}),
        # repeated keys: JSON decoders keep the last one, as MLflow does
        _raw(
            "repeated dataframe_split",
            f'{{"dataframe_split": {{"columns": {names}, '
            f'"data": {first}}}, "dataframe_split": {{"columns": {names}, "data": {second}}}}}',
        ),
        _raw(
            "repeated data in a split",
            f'{{"dataframe_split": {{"columns": {names}, "data": {first}, "data": {second}}}}}',
        ),
        _raw(
            "repeated columns key in a split",
            f'{{"dataframe_split": {{"columns": '
            f'{json.dumps(FEATURES[::-1])}, "columns": {names}, "data": {data}}}}}',
        ),
        _raw(
            "repeated params",
            f'{{"dataframe_split": {json.dumps(split)}, "params": [1], "params": {{"a": 1}}}}',
        ),
        # nested and ragged rows
        _json("nested cell", {"dataframe_split": {"columns": FEATURES, "data": [[[v] for v in values[0]]]}}),
        _json(
            "one nested cell",
            {"dataframe_split": {"columns": FEATURES, "data": [[[values[0][0]], *values[0][1:]]]}},
        ),
        _json(
            "row of 11 then empty lists",
            {"dataframe_split": {"columns": FEATURES, "data": [[*values[0], 0.5], [[]] * 10]}},
        ),
        _json("ragged rows", {"dataframe_split": {"columns": FEATURES, "data": [values[0], values[1][:9]]}}),
        # columns
        _json("reordered split", {"dataframe_split": _split(rows, FEATURES[::-1])}),
        _json(
            "extra column in split",
            {"dataframe_split": _split([{**r, "extra": 1.0} for r in rows], [*FEATURES, "extra"])},
        ),
        _json("extra key in records", {"dataframe_records": [{**row, "agee": 1}]}),
        _json("extra key in instances", {"instances": [{**row, "agee": 1}]}),
        _json("extra key in inputs", {"inputs": [{**row, "agee": 1}]}),
        _json("extra column in inputs columns", {"inputs": {**frame.to_dict(orient="list"), "agee": [1, 2]}}),
        _json("missing column", {"dataframe_records": [{k: v for k, v in row.items() if k != "bmi"}]}),
        _json("split without columns", {"dataframe_split": {"data": values}}),
        _json("split with index", {"dataframe_split": {**split, "index": [10, 11]}}),
        _json("split with unknown key", {"dataframe_split": {**split, "foo": 1}}),
        _json(
            "records missing a key in one record",
            {"dataframe_records": [row, {k: v for k, v in row.items() if k != "s6"}]},
        ),
        _json(
            "instances missing a key in one record",
            {"instances": [row, {k: v for k, v in row.items() if k != "s6"}]},
        ),
        # values
        _json("integers", {"dataframe_split": {"columns": FEATURES, "data": [[1] * 10]}}),
        _json(
            "numeric strings",
            {"dataframe_split": {"columns": FEATURES, "data": [[str(v) for v in values[0]]]}},
        ),
        _json("numeric strings in records", {"dataframe_records": [{k: str(v) for k, v in row.items()}]}),
        _json("numeric strings in instances", {"instances": [{k: str(v) for k, v in row.items()}]}),
        _json("booleans", {"dataframe_split": {"columns": FEATURES, "data": [[True] * 10]}}),
        _json("boolean in records", {"dataframe_records": [{**row, "age": True}]}),
        _json("boolean in instances", {"instances": [{**row, "age": False}]}),
        _json("null", {"dataframe_records": [{**row, "age": None}]}),
        _json("null in split", {"dataframe_split": {"columns": FEATURES, "data": [[None, *values[0][1:]]]}}),
        _json("text", {"dataframe_records": [{**row, "age": "abc"}]}),
        _json("object cell", {"dataframe_records": [{**row, "age": {"a": 1}}]}),
        _raw("NaN literal", f'{{"dataframe_split": {{"columns": {names}, "data": [[NaN, {tail}]]}}}}'),
        _raw(
            "Infinity literal", f'{{"dataframe_split": {{"columns": {names}, "data": [[Infinity, {tail}]]}}}}'
        ),
        _raw("1e999", f'{{"dataframe_split": {{"columns": {names}, "data": [[1e999, {tail}]]}}}}'),
        _raw(
            "big integers",
            f'{{"dataframe_split": {{"columns": {names}, "data": [['
            "18446744073709551615, 9223372036854775808, 100000000000000000000000000000, "
            "1, 1, 1, 1, 1, 1, 1]]}}",
        ),
        _raw(
            "exponents and odd whitespace",
            '{ "dataframe_split" :\n\t{"data":[[ 1E-2,2e+1 ,'
            f'-0.0,1.5E0,3,4,5,6,7,8 ]],"columns":{names} }} }}',
        ),
        Case("UTF-8 BOM", b"\xef\xbb\xbf" + json.dumps({"dataframe_split": split}).encode()),
        Case("UTF-16 body", json.dumps({"dataframe_split": split}).encode("utf-16")),
        # top-level keys and params (this model has no param schema: params are ignored)
        _json("unknown top-level key", {"dataframe_split": split, "metadata": {"a": 1}}),
        _json("params object", {"dataframe_split": split, "params": {"k": 1}}),
        _json("params list", {"dataframe_split": split, "params": [1]}),
        _json("params string", {"dataframe_split": split, "params": "x"}),
        _json("params null", {"dataframe_split": split, "params": None}),
        _json("params in records body", {"dataframe_records": rows, "params": 3}),
        _json("unwrapped form (prompt)", {**row, "prompt": "x"}),
        _json("unwrapped form (input) with rows", {"input": rows}),
        # CSV
        Case("csv", _csv(frame, index=False), CSV),
        Case("csv with to_csv() index", _csv(frame), CSV),
        Case("csv reordered", _csv(frame[FEATURES[::-1]], index=False), CSV),
        Case("csv extra column", _csv(frame.assign(extra=1.0), index=False), CSV),
        Case("csv missing column", _csv(frame.drop(columns="bmi"), index=False), CSV),
        Case("csv integers", _csv(frame.astype(int), index=False), CSV),
        Case("csv empty cell", _csv(frame, index=False).replace(b"0.05,", b",", 1), CSV),
        Case("csv text cell", _csv(frame, index=False).replace(b"0.05,", b"abc,", 1), CSV),
        Case("csv CRLF", _csv(frame, index=False, lineterminator="\r\n"), CSV),
        Case("csv quoted header", _csv(frame, index=False, quoting=1), CSV),
        Case("csv header only", (",".join(FEATURES) + "\n").encode(), CSV),
        Case("csv charset", _csv(frame, index=False), CSV + "; charset=utf-8"),
        Case(
            "csv repeated header name",
            (",".join([*FEATURES, "age"]) + "\n" + ",".join(["0.1"] * 11) + "\n").encode(),
            CSV,
        ),
        # Parquet
        Case("parquet", _parquet(frame, index=False), PARQUET),
        Case("parquet with index", _parquet(frame.set_index(pd.Index([5, 6]))), PARQUET),
        Case("parquet extra column", _parquet(frame.assign(extra="x"), index=False), PARQUET),
        Case("parquet integers", _parquet(frame.astype("int64"), index=False), PARQUET),
        Case("parquet zeros and ones", _parquet((frame > 0).astype("int64"), index=False), PARQUET),
        Case("parquet int32", _parquet(frame.astype("int32"), index=False), PARQUET),
        Case("parquet float32", _parquet(frame.astype("float32"), index=False), PARQUET),
        Case("parquet text column", _parquet(frame.astype(str), index=False), PARQUET),
        Case("parquet missing column", _parquet(frame.drop(columns="bmi"), index=False), PARQUET),
        Case("not parquet", b"PAR1 this is not parquet", PARQUET),
        # envelopes
        _json("text/plain", {"dataframe_split": split}, "text/plain"),
        _json("charset latin-1", {"dataframe_split": split}, JSON + "; charset=latin-1"),
        _json("empty records", {"dataframe_records": []}),
        _json("empty split", {"dataframe_split": {"columns": FEATURES, "data": []}}),
        Case("empty body", b""),
        _json("many rows", {"dataframe_split": _split([row] * 2000, FEATURES)}),
        _json(
            "6.3 MB body",
            {"dataframe_records": [{k: v + i * 1e-9 for k, v in row.items()} for i in range(27_000)]},
        ),
    ]
    return cases


def numeric_server_error_cases() -> list[Case]:
    """Cases MLflow answers with 5xx; we must answer 4xx."""
    row = json.dumps({"dataframe_records": [NUMERIC_ROW]}).encode()
    return [
        Case("invalid UTF-8", b'{"dataframe_records": [{"age": "\xff\xfe"}]}'),
        Case("5,000-deep nesting", b'{"instances": ' + b"[" * 5000 + b"0.1" + b"]" * 5000 + b"}"),
        Case("no content type", row, None),
    ]


# --- the mixed model (every column type, param schema) --------------------------------------

# Odd values per column type: what pandas, numpy and MLflow accept, convert or refuse.
VARIANTS: dict[str, list[Any]] = {
    "color": ["purple", 5, 5.5, None, True, "", ["red"], {"a": 1}],
    "count": [3.0, 3.5, "3", "3.0", "x", None, True, 2**40, 2**63, -1, [3]],
    "small": [1.0, 2**31, 2**40, "1", None, False, -(2**31), 7.9],
    "ratio": [1, "0.25", None, True, 1e39, "nan", 1e-50],
    "score": [1, "1.5", "1e3", None, True, "abc", 1e308, [1.0], -0.0],
    "flag": [False, 1, 0, 2, "true", "false", "", None, 0.5, [True], "yes"],
    "when": [
        "2024-03-01T12:30:00",
        "2024-03-01T12:30:00Z",
        1700000000,
        1.7e9,
        None,
        "notadate",
        True,
        "03/01/2024",
        "2024-03-01 12:30:00.123456789",
    ],
}


def _variant_rows(column: str, value: Any) -> list[dict[str, Any]]:
    return [{**MIXED_ROW, column: value}]


def mixed_cases() -> list[Case]:
    row = MIXED_ROW
    rows = [row, {**row, "color": "green", "count": 7, "flag": False, "when": "2024-06-30"}]
    frame = (
        pd.DataFrame(rows)
        .astype({"small": "int32", "ratio": "float32"})
        .assign(when=lambda f: pd.to_datetime(f["when"]))
    )
    cases: list[Case] = [
        _json("records", {"dataframe_records": rows}),
        _json("split", {"dataframe_split": _split(rows)}),
        _json("instances", {"instances": rows}),
        _json("inputs records", {"inputs": rows}),
        _json("inputs columns", {"inputs": pd.DataFrame(rows).to_dict(orient="list")}),
        _json("instances columns", {"instances": pd.DataFrame(rows).to_dict(orient="list")}),
        _json("inputs one record as columns of scalars", {"inputs": row}),
        _json("inputs scalars and lists", {"inputs": {**row, "count": [1, 2]}}),
        _json("split reordered", {"dataframe_split": _split(rows, list(row)[::-1])}),
        _json(
            "split with extra and index",
            {"dataframe_split": {**_split([{**r, "zip": "95120"} for r in rows]), "index": ["a", "b"]}},
        ),
        _json("records with extra keys", {"dataframe_records": [{**r, "agee": 1} for r in rows]}),
        _json("records missing when", {"dataframe_records": [{k: v for k, v in row.items() if k != "when"}]}),
        _json("unwrapped form (prompt)", {**row, "prompt": "hello"}),
        _json("unwrapped form with a declared param", {**row, "messages": [], "threshold": 0.7}),
        # params: defaults, conversions, refusals, ignored names
        *[
            _json(f"params {name}", {"dataframe_records": rows, "params": params})
            for name, params in _param_variants().items()
        ],
        # CSV and Parquet as pandas writes them
        Case("csv", _csv(pd.DataFrame(rows), index=False), CSV),
        Case("csv without the datetime", _csv(pd.DataFrame(rows).drop(columns="when"), index=False), CSV),
        Case("parquet", _parquet(frame, index=False), PARQUET),
        Case("parquet with index", _parquet(frame), PARQUET),
        Case("parquet datetime as text", _parquet(frame.astype({"when": str}), index=False), PARQUET),
        Case("parquet as pandas infers it", _parquet(pd.DataFrame(rows), index=False), PARQUET),
        Case("parquet int32 count", _parquet(frame.astype({"count": "int32"}), index=False), PARQUET),
        Case("parquet int64 small", _parquet(frame.astype({"small": "int64"}), index=False), PARQUET),
        Case("parquet float64 ratio", _parquet(frame.astype({"ratio": "float64"}), index=False), PARQUET),
        Case("parquet bool as int", _parquet(frame.astype({"flag": "int64"}), index=False), PARQUET),
        Case(
            "parquet tz-aware when",
            _parquet(frame.assign(when=frame["when"].dt.tz_localize("UTC")), index=False),
            PARQUET,
        ),
        Case(
            "parquet microsecond when",
            _parquet(frame.astype({"when": "datetime64[us]"}), index=False),
            PARQUET,
        ),
    ]
    for column, values in VARIANTS.items():
        for value in values:
            label = f"{column}={json.dumps(value)}"
            one = _variant_rows(column, value)
            cases += [
                _json(f"records {label}", {"dataframe_records": one}),
                _json(f"split {label}", {"dataframe_split": _split(one)}),
                _json(f"instances {label}", {"instances": one}),
                _json(f"inputs columns {label}", {"inputs": {k: [v] for k, v in one[0].items()}}),
                _json(f"records second row {label}", {"dataframe_records": [row, one[0]]}),
            ]
    return cases


def _param_variants() -> dict[str, Any]:
    return {
        "none": None,
        "empty": {},
        "list": [1],
        "string": "x",
        "threshold int": {"threshold": 1},
        "threshold float": {"threshold": 0.25},
        "threshold text": {"threshold": "0.5"},
        "threshold bool": {"threshold": True},
        "threshold null": {"threshold": None},
        "threshold list": {"threshold": [0.5]},
        "max_items int": {"max_items": 3},
        "max_items 3.0": {"max_items": 3.0},
        "max_items bool": {"max_items": False},
        "max_items huge": {"max_items": 2**70},
        "tags list": {"tags": ["x", "y"]},
        "tags empty": {"tags": []},
        "tags scalar": {"tags": "x"},
        "tags numbers": {"tags": [1, 2]},
        "tags nested": {"tags": [["x"]]},
        "explain true": {"explain": True},
        "explain 1": {"explain": 1},
        "explain text": {"explain": "true"},
        "since date": {"since": "2024-05-01"},
        "since datetime": {"since": "2024-05-01T10:00:00"},
        "since epoch": {"since": 1700000000},
        "since text": {"since": "not a date"},
        "since bool": {"since": True},
        "unknown name": {"zzz": 1},
        "all": {"threshold": 0.1, "max_items": 1, "tags": ["t"], "explain": True, "since": "2023-01-01"},
    }


def all_cases() -> Iterator[tuple[str, Case]]:
    for case in numeric_cases():
        yield "numeric", case
    for case in mixed_cases():
        yield "mixed", case
