"""Training logs a complete model: quality metrics per task, data facts, and the drift baseline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.lifecycle.cli import format_table
from app.lifecycle.operations import compare
from app.lifecycle.training import load_data, train
from app.model_loading.fetch_mlflow import client


def test_classification_model_is_logged_complete_and_served(
    settings_factory: Callable[..., Any],
    shim_factory: Callable[..., Any],
) -> None:
    name = "lifecycle-classifier"
    settings = settings_factory(model_name=name)
    result = train(settings, task="classification", alpha=1.0)
    assert {"accuracy", "f1", "roc_auc", "training_rows", "training_seconds"} <= set(result.metrics)
    assert 0.8 < result.metrics["roc_auc"] <= 1.0

    mlflow_client = client(settings)
    run = mlflow_client.get_run(result.run_id)
    assert run.data.params["task"] == "classification"
    assert len(run.data.tags["training_data_hash"]) == 64
    version = mlflow_client.get_model_version(name, result.version)
    assert float(version.tags["metric.roc_auc"]) == pytest.approx(result.metrics["roc_auc"], rel=1e-5)
    stats = mlflow_client.download_artifacts(result.run_id, "training_stats.json")
    assert "mean_radius" in Path(stats).read_text()

    mlflow_client.set_registered_model_alias(name, "champion", result.version)
    shim = shim_factory(settings)
    frame, target = load_data("classification")
    response = shim.post(
        "/predict",
        json_body={
            "dataframe_split": {"columns": list(frame.columns), "data": frame.head(20).to_numpy().tolist()}
        },
    )
    assert response.status_code == 200, response
    predictions = response.json()["predictions"]
    assert set(predictions) <= {0, 1}
    assert sum(p == t for p, t in zip(predictions, target.head(20), strict=True)) >= 17

    table = format_table(compare(settings, name))
    assert "roc_auc" in table.splitlines()[0] and result.version in table
