"""Acceptance 4: `python -m app train --model-type xgboost|lightgbm` works end to end on the
local stack (MLflow server + Azurite): logged with MLflow's own flavor in its native
format, signed, promoted behind the gate (which publishes the fallback) and served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from app.lifecycle.training import load_data
from app.model_loading.fetch_mlflow import client
from devstack.services import ROOT
from tests.flavors.cases import split_body

GATES = {"regression": "r2>=0.3", "classification": "roc_auc>=0.9"}
NATIVE_FORMAT = {"xgboost": "ubj", "lightgbm": "text"}


def _cli(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=_cli_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _cli_env(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODEL_"))}
    env.update(
        {
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "MODEL_SIGNING_KEY": settings.model_signing_key,
            "MODEL_SIGNING_PUBLIC_KEYS": settings.model_signing_public_keys,
            "MODEL_STORAGE_CONNECTION_STRING": settings.storage_connection_string.get_secret_value(),
            "MLFLOW_EXPERIMENT_NAME": "flavors-train",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


@pytest.mark.parametrize("model_type", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_train_boosted_model_end_to_end(
    model_type: str, task: str, settings_factory: Callable[..., Any], shim_factory: Callable[..., Any]
) -> None:
    name = f"train-{model_type}-{task}-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(model_name=name)
    proc = _cli(
        settings,
        "train",
        "--model-type",
        model_type,
        "--task",
        task,
        "--model-name",
        name,
        "--alias",
        "champion",
        "--min-metric",
        GATES[task],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()  # MLflow prints run links before the JSON result
    out = json.loads("\n".join(lines[len(lines) - 1 - lines[::-1].index("{") :]))
    assert out["signed_by"] and out["promotion"]["promoted"] is True, out
    assert out["promotion"]["fallback_version"] == out["version"]

    mlflow_client = client(settings)
    run = mlflow_client.get_run(out["run_id"])
    assert run.data.params["model_type"] == model_type
    assert "training_stats.json" in {a.path for a in mlflow_client.list_artifacts(out["run_id"])}
    version = mlflow_client.get_model_version(name, out["version"])
    assert version.tags["metric." + GATES[task].split(">=")[0]]

    shim = shim_factory(settings)
    frame, target = load_data(task)  # type: ignore[arg-type]
    response = shim.post("/invocations", json_body=split_body(frame.head(40)))
    assert response.status_code == 200, response
    predictions = response.json()["predictions"]
    info = shim.get("/model/info").json()
    assert (info["flavor"], info["format"], info["deserializer"], info["trust"]) == (
        model_type,
        NATIVE_FORMAT[model_type],
        "native",
        "signed",
    )
    if task == "classification":
        labels = [round(p) for p in predictions]  # XGBClassifier: labels; lightgbm Booster: P(1)
        assert sum(p == t for p, t in zip(labels, target.head(40), strict=True)) >= 36
    else:
        import numpy as np

        assert np.corrcoef(predictions, target.head(40))[0, 1] > 0.6


def test_onnx_example_exports_registers_signs_and_serves(
    settings_factory: Callable[..., Any], shim_factory: Callable[..., Any]
) -> None:
    name = f"example-onnx-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(model_name=name)
    proc = subprocess.run(
        [sys.executable, "-m", "examples.onnx_model", "--model-name", name, "--alias", "champion"],
        cwd=ROOT,
        env=_cli_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    out = json.loads("\n".join(lines[len(lines) - 1 - lines[::-1].index("{") :]))
    assert out["signed_by"] and out["promotion"]["promoted"] is True, out

    shim = shim_factory(settings)
    frame, target = load_data("regression")
    response = shim.post("/invocations", json_body=split_body(frame.head(10)))
    assert response.status_code == 200, response
    info = shim.get("/model/info").json()
    assert (info["flavor"], info["deserializer"], info["trust"]) == ("onnx", "native", "signed")
    from app.lifecycle.training import build_pipeline

    expected = build_pipeline(1.0).fit(frame, target).predict(frame.head(10))
    served = [row["variable"] for row in response.json()["predictions"]]
    assert served == pytest.approx(expected.tolist(), rel=1e-4)  # float32 graph vs float64
