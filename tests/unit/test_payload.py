"""Request bodies to model input, function by function (``app.payload``, ``app.numeric_split``,
``app.mlflow_input``, ``app.csv_body``): the two dialects (/invocations reads as `mlflow
models serve` does, /predict is strict), the numeric fast path and CSV headers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app import csv_body, mlflow_input, numeric_split, payload
from app.errors import ApiError, ErrorCode
from app.input_schema import InputSchema
from app.param_schema import ParamSchema

DOUBLES = InputSchema.from_dict([{"name": "a", "type": "double"}, {"name": "b", "type": "double"}])
MIXED = InputSchema.from_dict(
    [
        {"name": "x", "type": "long"},
        {"name": "s", "type": "string"},
        {"name": "f", "type": "boolean", "required": False},
    ]
)
PARAMS = ParamSchema.from_signature(
    {
        "params": [
            {"name": "k", "type": "long", "default": 3, "shape": None},
            {"name": "t", "type": "double", "default": 0.5, "shape": None},
            {"name": "tags", "type": "string", "default": None, "shape": [-1]},
        ]
    }
)
JSON = "application/json"
DIALECTS = pytest.mark.parametrize("mlflow", [True, False], ids=["invocations", "predict"])


def _parse(
    body: Any,
    schema: InputSchema | None = DOUBLES,
    *,
    mlflow: bool,
    content_type: str | None = JSON,
    params: ParamSchema | None = None,
    max_rows: int = 10,
) -> payload.ModelInput:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return payload.parse_body(raw, content_type, payload.Contract(schema, params, max_rows), mlflow=mlflow)


def _refused(call: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def _frame(**columns: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({name: np.asarray(values, dtype=np.float64) for name, values in columns.items()})


# --- repeated keys: the last one wins, as in MLflow (Python's json) --------------------------


@DIALECTS
def test_a_repeated_key_counts_once_with_its_last_value(mlflow: bool) -> None:
    assert payload.decode(b'{"a": 1, "b": 0, "a": 2}', mlflow=mlflow) == {"a": 2, "b": 0}
    body = (
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]},'
        b' "dataframe_split": {"columns": ["b", "a"], "data": [[3, 4]]}}'
    )
    # simdjson keeps both keys, so the fast path steps aside for the general one
    assert numeric_split.from_bytes(body, DOUBLES, 10) is None
    pd.testing.assert_frame_equal(_parse(body, mlflow=mlflow).frame, _frame(a=[4], b=[3]))
    in_a_record = b'{"dataframe_records": [{"a": 1, "b": 2, "a": 5}]}'
    pd.testing.assert_frame_equal(_parse(in_a_record, mlflow=mlflow).frame, _frame(a=[5], b=[2]))


# --- the numeric fast path --------------------------------------------------------------------


def test_the_fast_path_reads_a_numeric_split_in_schema_order() -> None:
    body = b'{"dataframe_split": {"columns": ["b", "a"], "data": [[1, 2.5], [3, 4]]}}'
    expected = _frame(a=[2.5, 4], b=[1, 3])
    for fast in (
        numeric_split.from_bytes(body, DOUBLES, 10),
        numeric_split.from_document(json.loads(body), DOUBLES, 10),
    ):
        assert fast is not None
        pd.testing.assert_frame_equal(fast[0], expected)
        assert fast[1] is None
    with_params = b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}, "params": {"k": 1}}'
    fast = numeric_split.from_bytes(with_params, DOUBLES, 10)
    assert fast is not None and fast[1] == {"k": 1}


@DIALECTS
def test_the_fast_path_yields_the_frame_of_the_general_path(mlflow: bool) -> None:
    body = b'{"dataframe_split": {"columns": ["b", "a"], "data": [[1, 2.5], [3, -4]]}}'
    contract = payload.Contract(DOUBLES, None, 10)
    general = payload.from_document(json.loads(body), contract, mlflow=mlflow)
    pd.testing.assert_frame_equal(_parse(body, mlflow=mlflow).frame, general.frame)


SPLIT = '{{"dataframe_split": {{"columns": {columns}, "data": {data}{index}}}{rest}}}'
STEPS_ASIDE = [  # (case, columns, data, extra split keys, extra top-level keys)
    ("nested array", '["a", "b"]', "[[1, [2]]]", "", ""),
    ("deeper nesting", '["a", "b"]', "[[[1], [2]]]", "", ""),
    ("ragged rows", '["a", "b"]', "[[1, 2], [3]]", "", ""),
    ("an index", '["a", "b"]', "[[1, 2]]", ', "index": [7]', ""),
    ("NaN", '["a", "b"]', "[[NaN, 2]]", "", ""),
    ("a boolean", '["a", "b"]', "[[true, 2]]", "", ""),
    ("a string", '["a", "b"]', '[["1", 2]]', "", ""),
    ("a null", '["a", "b"]', "[[null, 2]]", "", ""),
    ("an unknown column", '["a", "c"]', "[[1, 2]]", "", ""),
    ("a missing column", '["a"]', "[[1]]", "", ""),
    ("a repeated column", '["a", "a"]', "[[1, 2]]", "", ""),
    ("no rows", '["a", "b"]', "[]", "", ""),
    ("more rows than allowed", '["a", "b"]', "[[1, 2], [3, 4], [5, 6]]", "", ""),
    ("another top-level key", '["a", "b"]', "[[1, 2]]", "", ', "other": 1'),
    ("params not an object", '["a", "b"]', "[[1, 2]]", "", ', "params": [1]'),
]


@pytest.mark.parametrize(
    ("case", "columns", "data", "index", "rest"), STEPS_ASIDE, ids=[case[0] for case in STEPS_ASIDE]
)
def test_the_fast_path_steps_aside_for_anything_unusual(
    case: str, columns: str, data: str, index: str, rest: str
) -> None:
    body = SPLIT.format(columns=columns, data=data, index=index, rest=rest)
    assert numeric_split.from_bytes(body.encode(), DOUBLES, 2) is None
    if case not in ("NaN", "a boolean"):  # decoded NaN is a float; the caller rules out booleans
        assert numeric_split.from_document(json.loads(body), DOUBLES, 2) is None


@DIALECTS
def test_nested_arrays_are_refused_by_the_general_path_naming_the_column(mlflow: bool) -> None:
    error = _refused(
        lambda: _parse(b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, [2]]]}}', mlflow=mlflow)
    )
    assert (error.status_code, error.field, error.code) == (400, "b", ErrorCode.MALFORMED_REQUEST)


# --- the two dialects on the same bodies --------------------------------------------------------

ROW = {"a": 1, "b": 2}
# case, body, /invocations: frame columns or (status, field, code), /predict: the same
DIALECT_CASES: list[tuple[str, Any, Any, Any]] = [
    (
        "unknown top-level keys",
        {"instances": [ROW], "extra": {"q": 1}},
        _frame(a=[1], b=[2]),
        (400, "body", ErrorCode.MALFORMED_REQUEST),
    ),
    (
        "params not an object, no param schema",
        {"instances": [ROW], "params": [1]},
        _frame(a=[1], b=[2]),
        (400, "params", ErrorCode.INVALID_PARAMS),
    ),
    (
        "an extra column",
        {"dataframe_records": [{**ROW, "c": 3}]},
        _frame(a=[1], b=[2]),
        (400, "columns", ErrorCode.MALFORMED_REQUEST),
    ),
    (
        "a boolean in a double column",
        {"instances": [{"a": True, "b": 2}]},
        _frame(a=[1], b=[2]),
        (400, "a", ErrorCode.MALFORMED_REQUEST),
    ),
    (
        "a missing column",
        {"instances": [{"a": 1}]},
        (400, "b", ErrorCode.SCHEMA_MISMATCH),
        (400, "b", ErrorCode.MALFORMED_REQUEST),
    ),
    (
        "two format keys",
        {"instances": [ROW], "inputs": [ROW]},
        (400, "body", ErrorCode.MALFORMED_REQUEST),
        (400, "body", ErrorCode.MALFORMED_REQUEST),
    ),
    (
        "not an object",
        [ROW],
        (400, "body", ErrorCode.MALFORMED_REQUEST),
        (400, "body", ErrorCode.MALFORMED_REQUEST),
    ),
    (
        "empty body",
        b"",
        (400, "body", ErrorCode.MALFORMED_REQUEST),
        (400, "body", ErrorCode.MALFORMED_REQUEST),
    ),
    (
        "malformed JSON",
        b'{"instances": [',
        (400, "body", ErrorCode.MALFORMED_REQUEST),
        (400, "body", ErrorCode.MALFORMED_REQUEST),
    ),
    (
        "more rows than allowed",
        {"instances": [ROW] * 11},
        (413, "instances", ErrorCode.PAYLOAD_TOO_LARGE),
        (413, "instances", ErrorCode.PAYLOAD_TOO_LARGE),
    ),
]


@DIALECTS
@pytest.mark.parametrize(
    ("case", "body", "invocations", "predict"), DIALECT_CASES, ids=[case[0] for case in DIALECT_CASES]
)
def test_each_dialect_reads_the_body_as_documented(
    mlflow: bool, case: str, body: Any, invocations: Any, predict: Any
) -> None:
    expected = invocations if mlflow else predict
    if isinstance(expected, pd.DataFrame):
        parsed = _parse(body, mlflow=mlflow)
        pd.testing.assert_frame_equal(parsed.frame, expected)
        assert parsed.params is None  # no param schema: whatever params came are dropped
        return
    error = _refused(lambda: _parse(body, mlflow=mlflow))
    assert (error.status_code, error.field, error.code) == expected


def test_mlflow_reading_keeps_params_aside_and_ignores_other_keys() -> None:
    parsed = mlflow_input.parse_document(
        {"inputs": {"a": [1, 2], "b": [3, 4]}, "params": [1], "other": True}, DOUBLES, frozenset(), 10
    )
    assert parsed.params == [1] and not parsed.unwrapped
    assert {name: values.tolist() for name, values in parsed.data.items()} == {
        "a": [1.0, 2.0],
        "b": [3.0, 4.0],
    }


def test_mlflow_unwrapped_form_is_the_whole_object_minus_declared_params() -> None:
    parsed = mlflow_input.parse_document({"prompt": "hi", "k": 2, "t": 1.0}, None, frozenset({"k"}), 10)
    assert (parsed.data, parsed.params, parsed.unwrapped) == ({"prompt": "hi", "t": 1.0}, {"k": 2}, True)
    error = _refused(lambda: _parse({"prompt": "hi"}, None, mlflow=False))
    assert (error.status_code, error.field) == (400, "body")  # /predict has no such form


@pytest.mark.parametrize(
    ("case", "body", "column", "expected"),
    [
        ("a number in a long column is cast", {"dataframe_records": [{"x": 3.7, "s": "q"}]}, "x", [3]),
        (
            "text in a long column is cast",
            {"dataframe_split": {"columns": ["x", "s"], "data": [["7", "q"]]}},
            "x",
            [7],
        ),
        ("a number in a string column becomes text", {"instances": [{"x": 1, "s": 5}]}, "s", ["5"]),
        (
            "'false' in a boolean column is True",
            {"dataframe_records": [{"x": 1, "s": "q", "f": "false"}]},
            "f",
            [True],
        ),
    ],
)
def test_mlflow_conversions(case: str, body: Any, column: str, expected: list[Any]) -> None:
    """README, /invocations: "These are MLflow's rules, faithfully mirrored, including the
    ones that surprise"; /predict refuses each of these values."""
    assert _parse(body, MIXED, mlflow=True).frame[column].tolist() == expected
    error = _refused(lambda: _parse(body, MIXED, mlflow=False))
    assert (error.status_code, error.field) == (400, column)


# --- params with a param schema ---------------------------------------------------------------


@DIALECTS
def test_params_take_defaults_and_drop_undeclared_names(mlflow: bool) -> None:
    body = {"instances": [ROW], "params": {"t": 2, "tags": ["p", "q"], "unknown": 1}}
    parsed = _parse(body, mlflow=mlflow, params=PARAMS)
    assert parsed.params == {"k": 3, "t": 2.0, "tags": ["p", "q"]}
    assert type(parsed.params["t"]) is float  # an integer is accepted for a double
    assert _parse({"instances": [ROW]}, mlflow=mlflow, params=PARAMS).params == {
        "k": 3,
        "t": 0.5,
        "tags": None,
    }


@DIALECTS
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"k": "3"}, "params.k"),
        ({"k": True}, "params.k"),
        ({"t": "fast"}, "params.t"),
        ({"tags": "p"}, "params.tags"),
        ({"tags": [["p"]]}, "params.tags"),
        ([1, 2], "params"),
        ("k=3", "params"),
    ],
)
def test_params_the_schema_refuses_name_the_param(mlflow: bool, params: Any, field: str) -> None:
    error = _refused(lambda: _parse({"instances": [ROW], "params": params}, mlflow=mlflow, params=PARAMS))
    assert (error.status_code, error.field, error.code) == (400, field, ErrorCode.INVALID_PARAMS)
    assert error.code.mlflow_code == "INVALID_PARAMETER_VALUE"


# --- content types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "invocations", "predict"),
    [
        (JSON, 200, 200),
        (None, 200, 200),  # a missing content type is read as JSON
        ("application/vnd.api+json", 200, 200),
        ("Application/JSON; charset=UTF-8", 200, 200),
        ("application/json; charset=latin-1", 415, 415),
        ("application/json; format=pandas-split", 415, 200),  # MLflow: only charset may qualify
        ("text/plain", 415, 415),
        ("application/x-www-form-urlencoded", 415, 415),
    ],
)
def test_content_types(content_type: str | None, invocations: int, predict: int) -> None:
    for mlflow, expected in ((True, invocations), (False, predict)):

        def call(mlflow: bool = mlflow) -> Any:
            return _parse({"instances": [ROW]}, mlflow=mlflow, content_type=content_type)

        if expected == 200:
            pd.testing.assert_frame_equal(call().frame, _frame(a=[1], b=[2]))
        else:
            error = _refused(call)
            assert (error.status_code, error.field) == (415, "content-type")
    assert payload.is_json(content_type) == (content_type is None or "json" in content_type.lower())


# --- CSV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "schema", "field"),
    [
        ("a,b,a\n1,2,3\n", DOUBLES, "header"),
        ("a,a\n", None, "header"),
        (",".join(f"c{i}" for i in range(2 + csv_body.MAX_EXTRA_COLUMNS + 1)) + "\n", DOUBLES, "header"),
        (",".join(f"c{i}" for i in range(csv_body.MAX_COLUMNS_WITHOUT_SCHEMA + 1)) + "\n", None, "header"),
        ("\n\n", DOUBLES, "body"),
    ],
)
def test_csv_headers_refused_before_pandas_reads_them(
    text: str, schema: InputSchema | None, field: str
) -> None:
    error = _refused(lambda: csv_body.check_header(text, schema))
    assert (error.status_code, error.field) == (400, field)


def test_csv_headers_accepted_up_to_the_limit() -> None:
    names = [f"c{i}" for i in range(2 + csv_body.MAX_EXTRA_COLUMNS)]
    assert csv_body.check_header(",".join(names) + "\n1\n", DOUBLES) == names


@DIALECTS
def test_csv_bodies(mlflow: bool) -> None:
    frame = _parse(b"s,x,f\nhi,1,true\n", MIXED, mlflow=mlflow, content_type="text/csv").frame
    assert frame.to_dict("list") == {"x": [1], "s": ["hi"], "f": [True]}
    assert frame["x"].dtype == np.int64
    for body, status, field in (
        (b"a,b,a\n1,2,3\n", 400, "header"),
        (b"a,b\n\xff,2\n", 400, "body"),  # not UTF-8
        (b"a,b\n" + b"1,2\n" * 11, 413, "body"),
    ):
        error = _refused(lambda body=body: _parse(body, mlflow=mlflow, content_type="text/csv"))
        assert (error.status_code, error.field) == (status, field)


def test_csv_readers() -> None:
    typed = csv_body.read_as_mlflow("b,a,Unnamed: 0\n1,2,0\n", DOUBLES, 10)
    assert typed.dtypes.to_dict() == {"b": np.float64, "a": np.float64, "Unnamed: 0": np.int64}
    text = csv_body.read_as_text("a,b\n1,\n", DOUBLES, 10)
    assert text.to_dict("list") == {"a": ["1"], "b": [""]}  # /predict converts cells itself
    error = _refused(lambda: csv_body.read_as_text("a,b\n1,2\n3,4\n", DOUBLES, 1))
    assert (error.status_code, error.field) == (413, "body")
