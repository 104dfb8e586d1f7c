"""The mixed-type model the parity tests serve: every column type MLflow signatures have
(but binary) and a param schema, as a scikit-learn Pipeline saved with skops.

The columns reach the estimator through a ColumnTransformer (one-hot colours, scaled
numbers, the boolean as is, the datetime as int64 nanoseconds, scaled), and the estimator is
a Ridge regression, so any difference in how a value was converted shows in the prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MIXED_NAME = "parity-mixed"
ROW: dict[str, Any] = {
    "color": "red",
    "count": 3,
    "small": 1,
    "ratio": 0.5,
    "score": 1.0,
    "flag": True,
    "when": "2024-03-01",
}
COLUMN_TYPES = {
    "color": "string",
    "count": "long",
    "small": "integer",
    "ratio": "float",
    "score": "double",
    "flag": "boolean",
    "when": "datetime",
}
PARAMS: dict[str, Any] = {
    "threshold": 0.5,
    "max_items": 10,
    "tags": ["a", "b"],
    "explain": False,
    "since": np.datetime64("2024-01-01"),
}


def training_frame(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], n).astype(object),
            "count": rng.integers(0, 100, n).astype("int64"),
            "small": rng.integers(-5, 5, n).astype("int32"),
            "ratio": rng.random(n).astype("float32"),
            "score": rng.normal(size=n),
            "flag": rng.random(n) > 0.5,
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h"),
        }
    )
    target = (
        frame["count"] / 50 + frame["score"] + frame["flag"] * 0.5 + rng.normal(scale=0.1, size=n)
    ).to_numpy()
    return frame, target


def build_pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    as_int64 = FunctionTransformer(np.asarray, kw_args={"dtype": "int64"})
    columns = ColumnTransformer(
        [
            ("color", OneHotEncoder(handle_unknown="ignore"), ["color"]),
            ("numbers", StandardScaler(), ["count", "small", "ratio", "score"]),
            ("flag", "passthrough", ["flag"]),
            ("when", Pipeline([("ns", as_int64), ("scale", StandardScaler())]), ["when"]),
        ]
    )
    return Pipeline([("columns", columns), ("model", Ridge(alpha=1.0))])


def register_mixed(settings: Any, experiment: str = "parity") -> dict[str, str]:
    """Fit, log with a signature that has params, register, sign (confirming the types the
    pipeline needs: this process built it) and set alias ``champion``. Returns name, version
    and model URI."""
    import mlflow
    import skops.io
    from mlflow.models import infer_signature

    from app.lifecycle.signing import sign_version
    from app.model_loading import fetch_mlflow

    tracking_uri = settings.mlflow_tracking_uri

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    frame, target = training_frame()
    pipeline = build_pipeline().fit(frame, target)
    signature = infer_signature(frame, pipeline.predict(frame.head(5)), params=PARAMS)
    untrusted = sorted(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))
    # MLflow re-reads what it saved: this process made those bytes
    with mlflow.start_run(run_name="parity-mixed"), fetch_mlflow.mlflow_may_unpickle():
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=signature,
            serialization_format="skops",
            skops_trusted_types=untrusted,
            registered_model_name=MIXED_NAME,
        )
    version = str(info.registered_model_version)
    sign_version(settings, MIXED_NAME, version, trust_types=untrusted)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    client.set_registered_model_alias(MIXED_NAME, "champion", version)
    return {"name": MIXED_NAME, "version": version, "uri": f"models:/{MIXED_NAME}@champion"}
