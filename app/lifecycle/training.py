"""Train the sample model: a scikit-learn Pipeline on the diabetes data bundled with sklearn."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.model_loading.registry import TRUSTED_TYPES_TAG, configure_mlflow_client
from app.settings import Settings

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_name: str
    version: str
    metrics: dict[str, float]
    model_uri: str


def load_data() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    return data.data[FEATURES].astype("float64"), data.target.astype("float64")


def data_hash(frame: pd.DataFrame, target: pd.Series) -> str:
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).values.tobytes())
    digest.update(pd.util.hash_pandas_object(target, index=True).values.tobytes())
    return digest.hexdigest()


def feature_stats(frame: pd.DataFrame, bins: int = 10) -> dict[str, Any]:
    """Per-feature quantile bins of the training data, the baseline for drift reports."""
    stats: dict[str, Any] = {}
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
        counts, _ = np.histogram(values, bins=edges)
        stats[name] = {
            "mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max()),
            "bin_edges": edges.tolist(), "bin_fractions": (counts / counts.sum()).tolist(),
            "sample": np.random.default_rng(0).choice(values, size=min(200, len(values)),
                                                      replace=False).tolist(),
        }
    return stats


def build_pipeline(alpha: float, model_type: str = "ridge") -> Any:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if model_type == "ridge":
        estimator: Any = Ridge(alpha=alpha)
    elif model_type == "random_forest":
        estimator = RandomForestRegressor(n_estimators=50, max_depth=6, random_state=0)
    else:
        raise ValueError(f"unknown model type {model_type!r}: use ridge or random_forest")
    return Pipeline([("scale", StandardScaler()), ("model", estimator)])


def train(settings: Settings, *, alpha: float = 1.0, model_type: str = "ridge",
          model_name: str | None = None, test_size: float = 0.2, seed: int = 42) -> TrainResult:
    """Fit, evaluate, log everything to MLflow and register a new version."""
    import mlflow
    import skops.io
    from mlflow.models import infer_signature
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split

    configure_mlflow_client(settings)
    # MLflow validates the input example by reloading the model it just saved: this
    # process made those bytes, so trusting them here is safe.
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    name = model_name or settings.model_name
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(settings.experiment_name)
    features, target = load_data()
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=test_size, random_state=seed)
    pipeline = build_pipeline(alpha, model_type)
    started = time.perf_counter()
    pipeline.fit(x_train, y_train)
    duration = time.perf_counter() - started
    predicted = pipeline.predict(x_test)
    metrics = {
        "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
        "mae": float(mean_absolute_error(y_test, predicted)),
        "r2": float(r2_score(y_test, predicted)),
        "training_rows": float(len(x_train)),
        "training_seconds": float(duration),
    }
    untrusted = sorted(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))
    with mlflow.start_run(run_name=f"{name}-{model_type}") as run:
        mlflow.log_params({"model_type": model_type, "alpha": alpha, "test_size": test_size,
                           "seed": seed})
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"training_data_hash": data_hash(features, target),
                         "features": json.dumps(FEATURES)})
        mlflow.log_dict(feature_stats(x_train), "training_stats.json")
        info = mlflow.sklearn.log_model(
            pipeline, name="model",
            signature=infer_signature(x_train, pipeline.predict(x_train.head(5))),
            input_example=x_train.head(3),
            serialization_format="skops",
            skops_trusted_types=untrusted or None,
            registered_model_name=name,
            metadata={"features": FEATURES, "training_data_hash": data_hash(features, target)},
        )
        run_id = run.info.run_id
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    client.set_model_version_tag(name, version, TRUSTED_TYPES_TAG, json.dumps(untrusted))
    for key in ("rmse", "mae", "r2"):
        client.set_model_version_tag(name, version, f"metric.{key}", f"{metrics[key]:.6g}")
    return TrainResult(run_id=run_id, model_name=name, version=version, metrics=metrics,
                       model_uri=f"models:/{name}/{version}")
