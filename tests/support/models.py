"""Sample rows and training helpers shared by the tests."""

from __future__ import annotations

from typing import Any

from app.lifecycle.training import FEATURES, load_data

ROW = {
    "age": 0.038,
    "sex": 0.05,
    "bmi": 0.062,
    "bp": 0.022,
    "s1": -0.044,
    "s2": -0.035,
    "s3": -0.043,
    "s4": -0.003,
    "s5": 0.02,
    "s6": -0.018,
}


def rows(n: int) -> list[dict[str, Any]]:
    frame, _ = load_data()
    return frame.head(n).to_dict(orient="records")


def split(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"columns": FEATURES, "data": [[r[c] for c in FEATURES] for r in records]}


def fitted_ridge() -> Any:
    from sklearn.linear_model import Ridge

    features, target = load_data()
    return Ridge(alpha=1.0).fit(features, target)


def fitted_custom_pipeline() -> Any:
    """A pipeline whose FunctionTransformer calls a function skops does not know."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from tests.reliability.custom_code import double

    features, target = load_data()
    return make_pipeline(FunctionTransformer(double), fitted_ridge()).fit(features, target)
