"""The numeric dataframe_split fast paths build exactly what the general path builds, or step
aside: proved on fixed cases and on 2,000+ generated bodies (hypothesis) in both dialects."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import numeric_split
from app.errors import ApiError
from app.input_schema import InputSchema
from app.lifecycle.training import FEATURES
from app.payload import Contract, decode, from_document, parse_body
from tests.support.models import rows, split

SCHEMA = InputSchema.from_dict([{"name": f, "type": "double"} for f in FEATURES])
CONTRACT = Contract(SCHEMA, None, 1000)
DIALECTS = {"predict": False, "invocations": True}


@pytest.fixture(params=["simdjson", "orjson+numpy"])
def fast_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through both fast paths (simdjson off for the second)."""
    if request.param == "orjson+numpy":
        monkeypatch.setattr(numeric_split, "simdjson", None)
    return str(request.param)


def _both(document: dict[str, Any], mlflow: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    fast = parse_body(orjson.dumps(document), "application/json", CONTRACT, mlflow=mlflow).frame
    general = from_document(document, CONTRACT, mlflow=mlflow).frame
    return fast, general


@pytest.mark.usefixtures("fast_path")
@pytest.mark.parametrize("mlflow", [False, True], ids=list(DIALECTS))
@pytest.mark.parametrize("reverse", [False, True], ids=["schema order", "reordered columns"])
def test_fast_frame_equals_general_frame(reverse: bool, mlflow: bool) -> None:
    document = {"dataframe_split": split(rows(25))}
    if reverse:
        body = document["dataframe_split"]
        body["columns"] = body["columns"][::-1]
        body["data"] = [row[::-1] for row in body["data"]]
    fast, general = _both(document, mlflow)
    pd.testing.assert_frame_equal(fast, general)
    assert list(fast.columns) == FEATURES and fast.dtypes.unique().tolist() == [np.float64]


def test_the_fast_path_is_taken(fast_path: str) -> None:
    document = {"dataframe_split": split(rows(5)), "params": {"k": 1}}
    if fast_path == "simdjson":
        result = numeric_split.from_bytes(orjson.dumps(document), SCHEMA, 1000)
    else:
        result = numeric_split.from_document(document, SCHEMA, 1000)
    assert result is not None and result[1] == {"k": 1} and result[0].shape == (5, 10)


@pytest.mark.usefixtures("fast_path")
def test_integers_in_double_columns_are_accepted_like_the_general_path() -> None:
    document = {"dataframe_split": {"columns": FEATURES, "data": [[1] * 10, [2.5] * 10]}}
    fast, general = _both(document)
    pd.testing.assert_frame_equal(fast, general)


@pytest.mark.usefixtures("fast_path")
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([[True] * 10], "age"),  # booleans are not doubles
        ([[None] + [0.1] * 9], "age"),  # nulls in a required column
        ([["1.0"] + [0.1] * 9], "age"),  # strings
        ([[0.1] * 9], "dataframe_split.data"),  # ragged row
        ([["OVERFLOW"] + [0.1] * 9], "body"),  # 1e999: JSON that overflows is refused
    ],
)
def test_unusual_input_gets_the_general_error_on_predict(data: list[list[Any]], field: str) -> None:
    body = orjson.dumps({"dataframe_split": {"columns": FEATURES, "data": data}})
    body = body.replace(b'"OVERFLOW"', b"1e999")
    with pytest.raises(ApiError) as caught:
        parse_body(body, "application/json", CONTRACT, mlflow=False)
    assert caught.value.status_code == 400 and caught.value.field == field


# The two correctness bugs issue 14 found, each one body.
DOUBLED = [[0.1] * 10, [0.2] * 10]


@pytest.mark.parametrize(
    "body",
    [
        # repeated keys: decoders keep the last, simdjson's lookup found the first
        b'{"dataframe_split": {"columns": %s, "data": [%s]}, "dataframe_split": {"columns": %s, '
        b'"data": [%s]}}'
        % (
            json.dumps(FEATURES).encode(),
            json.dumps(DOUBLED[0]).encode(),
            json.dumps(FEATURES).encode(),
            json.dumps(DOUBLED[1]).encode(),
        ),
        b'{"dataframe_split": {"columns": %s, "data": [%s], "data": [%s]}}'
        % (json.dumps(FEATURES).encode(), json.dumps(DOUBLED[0]).encode(), json.dumps(DOUBLED[1]).encode()),
        # nested cells: the buffer of doubles flattened them
        json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[[0.1], *DOUBLED[0][1:]]]}}).encode(),
        json.dumps(
            {"dataframe_split": {"columns": FEATURES, "data": [[*DOUBLED[0], 0.5], [[]] * 10]}}
        ).encode(),
    ],
    ids=["repeated split", "repeated data", "nested cell", "row of 11 then empty lists"],
)
def test_the_fast_path_steps_aside_for_what_it_misread(body: bytes) -> None:
    assert numeric_split.from_bytes(body, SCHEMA, 1000) is None
    for mlflow in DIALECTS.values():
        try:
            general = from_document(decode(body, mlflow=mlflow), CONTRACT, mlflow=mlflow)
        except ApiError:
            with pytest.raises(ApiError):
                parse_body(body, "application/json", CONTRACT, mlflow=mlflow)
            continue
        served = parse_body(body, "application/json", CONTRACT, mlflow=mlflow)
        pd.testing.assert_frame_equal(served.frame, general.frame)
        assert served.frame["age"].iloc[0] == 0.2  # the last repeated key wins


# --- property: generated bodies ------------------------------------------------------------


class Raw(str):
    """JSON text to emit as is (number spellings, NaN, big integers)."""


class Obj(list):  # type: ignore[type-arg]
    """A JSON object as (key, value) pairs: keys may repeat."""


def _number_text(value: float | int, style: int) -> Raw:
    if isinstance(value, int) or not math.isfinite(value):
        return Raw(str(value))
    return Raw([repr(value), f"{value:e}", f"{value:E}", f"{value:.17g}"][style % 4])


NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(2**53), 2**53),
    st.sampled_from([0.0, -0.0, 1e-320, 1.7976931348623157e308, 2**53 + 1, 2**63 - 1]),
)
# Integers at and beyond int64/uint64: each parser handles them its own way.
BIG = st.sampled_from([2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**30, -(10**30)])
CELLS = st.one_of(
    st.tuples(st.one_of(NUMBERS, BIG), st.integers(0, 3)).map(lambda t: _number_text(*t)),
    st.sampled_from(
        [True, False, None, "1.5", "x", "", Raw("NaN"), Raw("Infinity"), Raw("1e999"), Raw("-1E400")]
    ),
    st.lists(NUMBERS.map(lambda v: _number_text(v, 0)), max_size=2),
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Half the bodies are ones the fast path should take (any column order, spacing and
    number spelling, maybe params); the other half add one or more odd things."""
    odd = draw(st.booleans())

    def pick(plain: Any, *unusual: Any) -> Any:
        return draw(st.sampled_from([plain] * 3 + list(unusual))) if odd else plain

    names = list(FEATURES)
    if draw(st.booleans()):
        names = draw(st.permutations(FEATURES))
    edit = pick("none", "drop", "extra", "repeat", "rename")
    if edit == "drop":
        names = names[1:]
    elif edit == "extra":
        names = [*names, "extra"]
    elif edit == "repeat":
        names = [*names[:-1], names[0]]
    elif edit == "rename":
        names = ["agee", *names[1:]]
    width = len(names)
    plain = st.tuples(NUMBERS, st.integers(0, 3)).map(lambda t: _number_text(*t))
    row_cells = st.one_of(plain, CELLS) if odd and draw(st.booleans()) else plain
    n_rows = draw(st.integers(0 if odd else 1, 4))
    data = []
    for _ in range(n_rows):
        row_width = width + pick(0, -1, 1)
        data.append(draw(st.lists(row_cells, min_size=max(row_width, 0), max_size=max(row_width, 0))))
    split_items = Obj([("columns", names), ("data", data)])
    if draw(st.booleans()):
        split_items = Obj(reversed(split_items))
    extra_split = pick(None, "index", "foo", "data", "columns")
    if extra_split == "index":
        split_items.append(("index", list(range(n_rows))))
    elif extra_split == "foo":
        split_items.append(("foo", 1))
    elif extra_split == "data":  # a repeated key: decoders keep the last
        split_items.append(("data", data[:1]))
    elif extra_split == "columns":
        split_items.insert(0, ("columns", names[::-1]))
    top = Obj([("dataframe_split", split_items)])
    extra_top = (
        draw(st.sampled_from([None, "params"]))
        if not odd
        else pick(None, "params", "params list", "metadata", "repeat split", "records")
    )
    if extra_top == "params":
        top.append(("params", Obj([("k", 1), ("k", "v")])))
    elif extra_top == "params list":
        top.append(("params", [1]))
    elif extra_top == "metadata":
        top.append(("metadata", Obj([("a", 1)])))
    elif extra_top == "repeat split":
        top.insert(0, ("dataframe_split", Obj([("columns", FEATURES), ("data", [[0.5] * 10])])))
    elif extra_top == "records":
        top.append(("dataframe_records", []))
    space = draw(st.sampled_from(["", " ", "\n", "\t ", "\r\n  "]))
    return _render(top, space).encode()


def _render(value: Any, space: str) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Obj):
        items = (f"{space}{json.dumps(k)}{space}:{space}{_render(v, space)}" for k, v in value)
        return "{" + ",".join(items) + space + "}"
    if isinstance(value, list):
        return "[" + ",".join(space + _render(v, space) for v in value) + space + "]"
    return json.dumps(value)


def _general(body: bytes, mlflow: bool) -> Any:
    try:
        return from_document(decode(body, mlflow=mlflow), CONTRACT, mlflow=mlflow)
    except ApiError:
        return None


@settings(
    max_examples=2500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=bodies())
def test_fast_paths_equal_the_general_path_or_step_aside(body: bytes) -> None:
    from_bytes = numeric_split.from_bytes(body, SCHEMA, 1000)
    for dialect, mlflow in DIALECTS.items():
        general = _general(body, mlflow)
        try:
            document = decode(body, mlflow=mlflow)
        except ApiError:
            document = None
        fast_results = [from_bytes]
        if document is not None and b"true" not in body and b"false" not in body:
            fast_results.append(numeric_split.from_document(document, SCHEMA, 1000))
        for fast in fast_results:
            if fast is None:
                continue  # stepped aside
            assert general is not None, (
                f"{dialect}: the fast path accepted what the general path refuses: {body[:300]!r}"
            )
            pd.testing.assert_frame_equal(fast[0], general.frame, check_exact=True)
            if not mlflow:  # /invocations enforces params separately (no param schema here)
                assert fast[1] == general.params
