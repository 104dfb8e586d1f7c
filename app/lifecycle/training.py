"""Train a sample model on data bundled with scikit-learn.

``regression`` (default) fits the diabetes data and logs RMSE/MAE/R²; ``classification``
fits the breast-cancer data and logs accuracy/F1/ROC-AUC. The scikit-learn model types
(ridge, logistic, random_forest) are a Pipeline with the preprocessing inside, logged with
MLflow's sklearn flavor as skops; ``xgboost`` and ``lightgbm`` are gradient-boosted trees
logged with MLflow's own xgboost/lightgbm flavor in their native formats (XGBoost UBJ, the
LightGBM Booster's text model), which the server loads without pickle or skops. Either way
the feature list, data hash and per-feature statistics (the drift baseline) are logged
with the model, so a registry version is complete alone.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from app.model_loading.fetch_mlflow import ensure_configured, mlflow_may_unpickle
from app.settings import Settings

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
Task = Literal["regression", "classification"]
BOOSTED = ("xgboost", "lightgbm")
MODEL_TYPES: dict[str, tuple[str, ...]] = {
    "regression": ("ridge", "random_forest", *BOOSTED),
    "classification": ("logistic", "random_forest", *BOOSTED),
}
QUALITY_METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("rmse", "mae", "r2"),
    "classification": ("accuracy", "f1", "roc_auc"),
}


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_name: str
    version: str
    metrics: dict[str, float]
    model_uri: str
    signed_by: str | None = None  # id of the signing key; None when MODEL_SIGNING_KEY is unset


def load_data(task: Task = "regression") -> tuple[pd.DataFrame, pd.Series]:
    if task == "classification":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer(as_frame=True)
        frame = data.data.rename(columns=lambda c: c.replace(" ", "_")).astype("float64")
        return frame, data.target.astype("int64")
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
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
            "bin_edges": edges.tolist(),
            "bin_fractions": (counts / counts.sum()).tolist(),
            "sample": np.random.default_rng(0)
            .choice(values, size=min(200, len(values)), replace=False)
            .tolist(),
        }
    return stats


def build_pipeline(alpha: float, model_type: str = "ridge", task: Task = "regression") -> Any:
    """Scaling + estimator; ``alpha`` is the regularisation strength (C = 1/alpha for logistic)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    estimators: dict[tuple[str, str], Any] = {
        ("regression", "ridge"): lambda: Ridge(alpha=alpha),
        ("regression", "random_forest"): lambda: RandomForestRegressor(
            n_estimators=50, max_depth=6, random_state=0
        ),
        ("classification", "logistic"): lambda: LogisticRegression(C=1.0 / alpha, max_iter=2000),
        ("classification", "random_forest"): lambda: RandomForestClassifier(
            n_estimators=100, max_depth=6, random_state=0
        ),
    }
    if (task, model_type) not in estimators:
        raise ValueError(
            f"unknown model type {model_type!r} for {task}: use " + " or ".join(MODEL_TYPES.get(task, ()))
        )
    return Pipeline([("scale", StandardScaler()), ("model", estimators[task, model_type]())])


def build_boosted(alpha: float, model_type: str, task: Task = "regression") -> Any:
    """Gradient-boosted trees (scikit-learn API); ``alpha`` is the L2 penalty on leaf weights."""
    params: dict[str, Any] = {
        "n_estimators": 200,
        "learning_rate": 0.05,
        "reg_lambda": alpha,
        "subsample": 0.8,
        "random_state": 0,
    }
    if model_type == "xgboost":
        import xgboost

        estimator = xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor
        return estimator(max_depth=3, colsample_bytree=0.8, **params)
    if model_type == "lightgbm":
        import lightgbm

        estimator = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
        return estimator(num_leaves=8, min_child_samples=10, subsample_freq=1, verbose=-1, **params)
    raise ValueError(f"unknown boosted model type {model_type!r}: use " + " or ".join(BOOSTED))


def build_model(alpha: float, model_type: str, task: Task = "regression") -> Any:
    if model_type in BOOSTED:
        return build_boosted(alpha, model_type, task)
    return build_pipeline(alpha, model_type, task)


def log_model(
    model: Any, model_type: str, x_sample: pd.DataFrame, skops_trusted: list[str], **common: Any
) -> Any:
    """Log ``model`` with MLflow's own flavor for its type and return the ModelInfo.

    A LightGBM scikit-learn model is logged as its Booster: MLflow would store the estimator
    as skops or pickle, the Booster as LightGBM's text model. The served predictions are
    then the Booster's (for classification: the probability of class 1)."""
    from mlflow.models import infer_signature

    if model_type == "xgboost":
        import mlflow.xgboost

        return mlflow.xgboost.log_model(
            model, signature=infer_signature(x_sample, model.predict(x_sample)), model_format="ubj", **common
        )
    if model_type == "lightgbm":
        import mlflow.lightgbm

        booster = model.booster_
        return mlflow.lightgbm.log_model(
            booster, signature=infer_signature(x_sample, booster.predict(x_sample)), **common
        )
    import mlflow.sklearn

    return mlflow.sklearn.log_model(
        model,
        signature=infer_signature(x_sample, model.predict(x_sample)),
        serialization_format="skops",
        skops_trusted_types=skops_trusted or None,
        **common,
    )


def skops_types(model: Any, model_type: str) -> list[str]:
    """The skops types the logged file needs beyond skops' defaults (none for native files)."""
    if model_type in BOOSTED:
        return []
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def evaluate(task: Task, pipeline: Any, x_test: pd.DataFrame, y_test: pd.Series) -> dict[str, float]:
    from sklearn import metrics as m

    predicted = pipeline.predict(x_test)
    if task == "classification":
        scores = pipeline.predict_proba(x_test)[:, 1]
        return {
            "accuracy": float(m.accuracy_score(y_test, predicted)),
            "f1": float(m.f1_score(y_test, predicted)),
            "roc_auc": float(m.roc_auc_score(y_test, scores)),
        }
    return {
        "rmse": float(np.sqrt(m.mean_squared_error(y_test, predicted))),
        "mae": float(m.mean_absolute_error(y_test, predicted)),
        "r2": float(m.r2_score(y_test, predicted)),
    }


def train(
    settings: Settings,
    *,
    alpha: float = 1.0,
    model_type: str | None = None,
    model_name: str | None = None,
    task: Task = "regression",
    test_size: float = 0.2,
    seed: int = 42,
) -> TrainResult:
    """Fit, evaluate, log everything to MLflow and register a new version (signed when
    MODEL_SIGNING_KEY is set)."""
    import mlflow
    from sklearn.model_selection import train_test_split

    ensure_configured(settings)
    name = model_name or settings.model_name
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(settings.experiment_name)
    model_type = model_type or MODEL_TYPES[task][0]
    if model_type not in MODEL_TYPES[task]:
        raise ValueError(f"unknown model type {model_type!r} for {task}: use " + ", ".join(MODEL_TYPES[task]))
    features, target = load_data(task)
    feature_names = list(features.columns)
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        target,
        test_size=test_size,
        random_state=seed,
        stratify=target if task == "classification" else None,
    )
    model = build_model(alpha, model_type, task)
    started = time.perf_counter()
    model.fit(x_train, y_train)
    duration = time.perf_counter() - started
    metrics = {
        **evaluate(task, model, x_test, y_test),
        "training_rows": float(len(x_train)),
        "training_seconds": float(duration),
    }
    untrusted = skops_types(model, model_type)
    with mlflow.start_run(run_name=f"{name}-{model_type}") as run:
        mlflow.log_params(
            {"task": task, "model_type": model_type, "alpha": alpha, "test_size": test_size, "seed": seed}
        )
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                "training_data_hash": data_hash(features, target),
                "task": task,
                "features": json.dumps(feature_names),
            }
        )
        mlflow.log_dict(feature_stats(x_train), "training_stats.json")
        # MLflow validates the input example by reloading the model it just saved: this
        # process made those bytes, so trusting them here is safe.
        with mlflow_may_unpickle():
            info = log_model(
                model,
                model_type,
                x_train.head(5),
                untrusted,
                name="model",
                input_example=x_train.head(3),
                registered_model_name=name,
                metadata={
                    "task": task,
                    "features": feature_names,
                    "training_data_hash": data_hash(features, target),
                },
            )
        run_id = run.info.run_id
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    for key in QUALITY_METRICS[task]:
        client.set_model_version_tag(name, version, f"metric.{key}", f"{metrics[key]:.6g}")
    signed_by = None
    if settings.model_signing_key:
        from app.lifecycle.signing import sign_version

        # The types this process's own pipeline needs are confirmed: it built the object.
        signed_by = sign_version(settings, name, version, trust_types=untrusted).key_id
    return TrainResult(
        run_id=run_id,
        model_name=name,
        version=version,
        metrics=metrics,
        model_uri=f"models:/{name}/{version}",
        signed_by=signed_by,
    )
