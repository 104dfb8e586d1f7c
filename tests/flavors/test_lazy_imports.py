"""A flavor's library is imported only when the served model needs it: a fresh worker
process that imports function_app and serves the scikit-learn sample never imports
xgboost, lightgbm or onnxruntime (each costs the cold start import time and memory), and
with MODEL_FLAVOR naming another flavor, the cold start does not import skops (whose
import loads every scikit-learn module) ahead of the load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from devstack.services import ROOT
from tests.flavors.cases import CASES, log_case, split_body

FLAVOR_LIBRARIES = ("xgboost", "lightgbm", "onnxruntime")

# What the Functions worker does: import function_app (which starts the load), then invoke.
SCRIPT = """
import asyncio, json, sys, uuid
for blocked in json.loads(sys.argv[2]):
    sys.modules[blocked] = None  # as if the zip were built without it
import azure.functions as func
import function_app
from benchmarks.inproc import FunctionContext
(function,) = function_app.app.get_functions()
request = func.HttpRequest(method="POST", url="http://localhost:7071/invocations",
                           headers={"content-type": "application/json"}, body=sys.argv[1].encode())
response = asyncio.run(function.get_user_function()(request, FunctionContext(uuid.uuid4().hex)))
print(json.dumps({"status": response.status_code, "body": json.loads(response.get_body()),
                  "imported": sorted(m for m in sys.modules if m.split(".")[0] in
                                     ("xgboost", "lightgbm", "onnxruntime", "onnx", "skl2onnx",
                                      "skops", "sklearn")
                                     and sys.modules[m] is not None)}))
"""


def _serve_in_fresh_worker(
    settings: Any, body: dict[str, Any], blocked: tuple[str, ...] = (), flavor: str = "sklearn"
) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODEL_"))}
    env.update(
        {
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "MODEL_NAME": settings.model_name,
            "MODEL_ALIAS": "champion",
            "MODEL_SIGNING_PUBLIC_KEYS": settings.model_signing_public_keys,
            "MODEL_FALLBACK_ENABLED": "false",
            "FUNCTIONS_AUTH_LEVEL": "ANONYMOUS",
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "LOG_LEVEL": "WARNING",
            "MODEL_REFRESH_SECONDS": "0",
            "MODEL_FLAVOR": flavor,
        }
    )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(body), json.dumps(blocked)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_sklearn_cold_start_imports_no_other_flavor_library(
    champion: dict[str, Any], settings_factory: Callable[..., Any]
) -> None:
    from tests.support.models import ROW

    out = _serve_in_fresh_worker(champion["settings"], {"instances": [ROW]})
    assert out["status"] == 200, out
    assert {m.split(".")[0] for m in out["imported"]} == {"skops", "sklearn"}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("xgb-regressor", {"xgboost", "sklearn"}),  # XGBoost imports scikit-learn itself
        ("lgb-booster-regression", {"lightgbm", "sklearn"}),  # so does LightGBM
        ("onnx-regression", {"onnxruntime"}),
    ],
)
def test_a_flavor_imports_only_its_own_library(
    key: str, expected: set[str], settings_factory: Callable[..., Any]
) -> None:
    settings = settings_factory()
    logged = log_case(settings, CASES[key])
    out = _serve_in_fresh_worker(
        settings.model_copy(update={"model_name": logged.name}),
        split_body(logged.frame.head(2)),
        flavor=logged.case.flavor,
    )
    assert out["status"] == 200, out
    assert {m.split(".")[0] for m in out["imported"]} == expected


def test_a_wrong_model_flavor_only_costs_the_head_start(settings_factory: Callable[..., Any]) -> None:
    settings = settings_factory()
    logged = log_case(settings, CASES["onnx-regression"])
    out = _serve_in_fresh_worker(
        settings.model_copy(update={"model_name": logged.name}),
        split_body(logged.frame.head(2)),
        flavor="xgboost",
    )
    assert out["status"] == 200, out
    assert {"onnxruntime", "xgboost"} <= {m.split(".")[0] for m in out["imported"]}


def test_a_deployment_without_the_library_says_so(settings_factory: Callable[..., Any]) -> None:
    settings = settings_factory()
    logged = log_case(settings, CASES["lgb-booster-regression"])
    out = _serve_in_fresh_worker(
        settings.model_copy(update={"model_name": logged.name}),
        split_body(logged.frame.head(2)),
        blocked=("lightgbm",),
    )
    assert out["status"] == 503, out
    assert out["body"]["error"] == "model_unavailable"
    assert "does not include lightgbm" in json.dumps(out["body"])
