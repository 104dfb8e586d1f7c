"""The numeric dataframe_split fast path builds exactly what the general path builds."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from app import numeric_split
from app.errors import ApiError
from app.input_schema import InputSchema
from app.lifecycle.training import FEATURES
from app.payload import from_document, parse_body
from tests.support.models import rows, split

SCHEMA = InputSchema.from_dict([{"name": f, "type": "double"} for f in FEATURES])


@pytest.fixture(autouse=True, params=["simdjson", "orjson+numpy"])
def fast_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every test through both fast paths (simdjson off for the second)."""
    if request.param == "orjson+numpy":
        monkeypatch.setattr(numeric_split, "simdjson", None)
    return str(request.param)


def _both(document: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    fast = parse_body(orjson.dumps(document), "application/json", SCHEMA, 1000).frame
    general = from_document(document, SCHEMA, 1000).frame
    return fast, general


@pytest.mark.parametrize("reverse", [False, True], ids=["schema order", "reordered columns"])
def test_fast_frame_equals_general_frame(reverse: bool) -> None:
    document = {"dataframe_split": split(rows(25))}
    if reverse:
        body = document["dataframe_split"]
        body["columns"] = body["columns"][::-1]
        body["data"] = [row[::-1] for row in body["data"]]
    fast, general = _both(document)
    pd.testing.assert_frame_equal(fast, general)
    assert list(fast.columns) == FEATURES and fast.dtypes.unique().tolist() == [np.float64]


def test_the_fast_path_is_taken(fast_path: str) -> None:
    document = {"dataframe_split": split(rows(5)), "params": {"k": 1}}
    if fast_path == "simdjson":
        result = numeric_split.from_bytes(orjson.dumps(document), SCHEMA, 1000)
    else:
        result = numeric_split.from_document(document, SCHEMA, 1000)
    assert result is not None and result[1] == {"k": 1} and result[0].shape == (5, 10)


def test_integers_in_double_columns_are_accepted_like_the_general_path() -> None:
    document = {"dataframe_split": {"columns": FEATURES, "data": [[1] * 10, [2.5] * 10]}}
    fast, general = _both(document)
    pd.testing.assert_frame_equal(fast, general)


@pytest.mark.parametrize(("data", "field"), [
    ([[True] * 10], "age"),                      # booleans are not doubles
    ([[None] + [0.1] * 9], "age"),               # nulls in a required column
    ([["1.0"] + [0.1] * 9], "age"),              # strings
    ([[0.1] * 9], "dataframe_split.data"),        # ragged row
    ([["OVERFLOW"] + [0.1] * 9], "body"),        # 1e999: JSON that overflows is refused
])
def test_unusual_input_gets_the_general_error(data: list[list[Any]], field: str) -> None:
    body = orjson.dumps({"dataframe_split": {"columns": FEATURES, "data": data}})
    body = body.replace(b'"OVERFLOW"', b"1e999")
    with pytest.raises(ApiError) as caught:
        parse_body(body, "application/json", SCHEMA, 1000)
    assert caught.value.status_code == 400 and caught.value.field == field
