"""Each source of the loading chain, single-flight loading, fallback and degraded start."""

from __future__ import annotations

import time
from typing import Any

import pytest

from devstack.services import free_port
from tests.support.models import ROW


def _ready(shim: Any) -> dict[str, Any]:
    response = shim.get("/model/info")
    assert response.status_code == 200, response
    return response.json()


@pytest.mark.parametrize(
    "uri_template",
    [
        "models:/{name}/{version}",
        "models:/{name}@champion",
        "models:/{name}/latest",
        "runs:/{run_id}/model",
    ],
)
def test_model_uri_forms(
    shim_factory: Any, settings_factory: Any, champion: dict[str, Any], uri_template: str
) -> None:
    uri = uri_template.format(**champion)
    info = _ready(shim_factory(settings_factory(model_uri=uri)))
    assert info["source"] == "registry"
    assert info["load_attempts"][0]["source"] == "model_uri"
    assert info["load_attempts"][0]["uri"] == uri
    assert info["run_id"] == champion["run_id"]


def test_model_variant_is_an_alias_of_model_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import Settings

    monkeypatch.setenv("MODEL_VARIANT", "models:/x/3")
    assert Settings().model_uri == "models:/x/3"


def test_pinned_version(shim_factory: Any, settings_factory: Any, champion: dict[str, Any]) -> None:
    info = _ready(shim_factory(settings_factory(model_version=champion["version"])))
    assert info["version"] == champion["version"]
    assert info["load_attempts"][-1]["uri"] == f"models:/{champion['name']}/{champion['version']}"


def test_stage(shim_factory: Any, settings_factory: Any) -> None:
    from mlflow import MlflowClient

    from app.lifecycle.training import train

    settings = settings_factory(model_name="stage-test")
    first = train(settings, alpha=1.0)
    train(settings, alpha=2.0)
    MlflowClient(settings.mlflow_tracking_uri).transition_model_version_stage(
        "stage-test", first.version, "Staging"
    )
    info = _ready(
        shim_factory(settings_factory(model_name="stage-test", model_alias=None, model_stage="staging"))
    )
    assert info["version"] == first.version
    assert info["stage"] == "Staging"


def test_run_id(shim_factory: Any, settings_factory: Any, champion: dict[str, Any]) -> None:
    info = _ready(shim_factory(settings_factory(use_mlflow_registry=False, model_run_id=champion["run_id"])))
    assert info["run_id"] == champion["run_id"]
    assert [a["source"] for a in info["load_attempts"]] == ["run_id"]


def test_latest_run_by_name(shim_factory: Any, settings_factory: Any, champion: dict[str, Any]) -> None:
    from app.lifecycle.signing import sign_run
    from app.model_loading.fetch_mlflow import client, latest_run_with_name

    settings = settings_factory(use_mlflow_registry=False, model_run_name="diabetes-test-ridge")
    latest = latest_run_with_name(client(settings), "diabetes-test-ridge")
    sign_run(settings, latest)
    info = _ready(shim_factory(settings))
    assert info["load_attempts"][-1]["source"] == "run_name"
    assert info["run_id"] == latest


def test_chain_order_falls_through_to_next_source(
    shim_factory: Any, settings_factory: Any, champion: dict[str, Any]
) -> None:
    info = _ready(
        shim_factory(settings_factory(model_alias="no-such-alias", model_run_id=champion["run_id"]))
    )
    sources = [(a["source"], a["outcome"]) for a in info["load_attempts"]]
    assert sources == [("registry", "failed"), ("run_id", "loaded")]
    assert "no-such-alias" in info["load_attempts"][0]["error"]


def test_blob_fallback_when_registry_is_down(
    shim_factory: Any, settings_factory: Any, champion: dict[str, Any]
) -> None:
    timeout = 2.0
    settings = settings_factory(
        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}", registry_timeout_seconds=timeout
    )
    shim = shim_factory(settings)
    started = time.monotonic()
    response = shim.post("/predict", json_body={"instances": [ROW]})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response
    assert response.json()["model"] == {
        "name": champion["name"],
        "version": champion["version"],
        "source": "blob_fallback",
    }
    info = _ready(shim)
    assert info["source"] == "blob_fallback"
    assert info["sha256"] == champion["sha256"]
    registry_attempt, fallback_attempt = info["load_attempts"]
    assert registry_attempt["source"] == "registry" and registry_attempt["outcome"] == "failed"
    assert "unreachable" in registry_attempt["error"]
    assert fallback_attempt["outcome"] == "loaded"
    assert registry_attempt["duration_ms"] <= timeout * 1000 + 500
    assert elapsed < 30  # generous bound: the point is that a dead registry cannot hang startup


def test_degraded_start_serves_503_then_recovers(
    shim_factory: Any, settings_factory: Any, champion: dict[str, Any]
) -> None:
    settings = settings_factory(model_name="never-registered", startup_wait_seconds=5.0)
    shim = shim_factory(settings)
    ready = shim.get("/health/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["error"] == "model_unavailable" and "never-registered" in body["reason"]
    predict = shim.post("/predict", json_body={"instances": [ROW]})
    assert predict.status_code == 503
    assert predict.json()["error"] == "model_unavailable"
    invocations = shim.post("/invocations", json_body={"instances": [ROW]})
    assert invocations.status_code == 503
    assert shim.get("/health/live").status_code == 200


def test_concurrent_first_requests_load_once(
    shim_factory: Any, settings_factory: Any, champion: dict[str, Any]
) -> None:
    shim = shim_factory(settings_factory())
    futures = [shim.submit("POST", "/predict", json_body={"instances": [ROW]}) for _ in range(16)]
    statuses = [f.result(60).status_code for f in futures]
    assert statuses == [200] * 16
    assert shim.manager.stats.loads == 1
    assert len(shim.manager.attempts) == 1
