"""Real faults in real services: a private MLflow server and Azurite, stopped and paused.

The session-wide services are never touched; this module starts its own pair, trains
its own model into them and stops them at the end.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.services import free_port
from tests.reliability.stack import Stack, start_stack
from tests.support.models import ROW
from tests.support.shim import ShimClient

TIMEOUT = 2.0
BLOB_BUDGET = 5.0  # chain.py: the blob fallback gets max(REGISTRY_TIMEOUT_SECONDS, 5 s)
SLACK = 15.0  # generous: this bounds "did not hang", it is not a latency test


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    own = start_stack(tmp_path_factory.mktemp("faults"), "reliability-faults")
    yield own
    own.stop()


@pytest.fixture(autouse=True)
def healed(stack: Stack) -> Iterator[None]:
    yield
    stack.heal()


@pytest.fixture
def shims() -> Iterator[Callable[..., ShimClient]]:
    clients: list[ShimClient] = []

    def make(settings: Any) -> ShimClient:
        clients.append(ShimClient(settings))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def _wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _predict_from_fallback(shim: ShimClient, stack: Stack) -> float:
    started = time.monotonic()
    response = shim.post("/predict", json_body={"instances": [ROW]})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response
    assert response.json()["model"] == {
        "name": stack.model_name,
        "version": stack.version,
        "source": "blob_fallback",
    }
    return elapsed


def test_registry_down_at_cold_start_uses_blob_fallback(stack: Stack, shims: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    shim = shims(stack.settings(mlflow_tracking_uri=dead, registry_timeout_seconds=TIMEOUT))
    assert _predict_from_fallback(shim, stack) < TIMEOUT + BLOB_BUDGET + SLACK
    info = shim.get("/model/info").json()
    registry, fallback = info["load_attempts"]
    assert (registry["source"], registry["outcome"]) == ("registry", "failed")
    assert "unreachable" in registry["error"]
    assert registry["duration_ms"] <= TIMEOUT * 1000 + 1000
    assert (fallback["outcome"], info["sha256"]) == ("loaded", stack.sha256)
    assert info["registry_reachable"] is False


def test_registry_that_never_answers_cannot_hang_cold_start(stack: Stack, shims: Any) -> None:
    stack.mlflow.pause()  # SIGSTOP: the socket accepts, nothing ever answers
    shim = shims(stack.settings(registry_timeout_seconds=TIMEOUT))
    assert _predict_from_fallback(shim, stack) < TIMEOUT + BLOB_BUDGET + SLACK
    registry = shim.get("/model/info").json()["load_attempts"][0]
    assert registry["outcome"] == "failed"
    assert "timed out" in registry["error"]
    assert registry["duration_ms"] <= TIMEOUT * 1000 + 1000


def test_alias_on_version_without_artifacts_falls_to_next_source(stack: Stack, shims: Any) -> None:
    from mlflow import MlflowClient

    from app.lifecycle.training import train

    settings = stack.settings(registry_timeout_seconds=8.0)
    broken = train(settings, alpha=3.0)
    client = MlflowClient(stack.mlflow.url)
    client.set_registered_model_alias(stack.model_name, "broken", broken.version)
    model_id = client.get_model_version(stack.model_name, broken.version).source.split("/")[-1]
    folders = list((stack.mlflow.workdir / "artifacts").glob(f"*/models/{model_id}"))
    assert len(folders) == 1, folders
    shutil.rmtree(folders[0])  # the registry still names the version; its files are gone

    shim = shims(stack.settings(model_alias="broken", registry_timeout_seconds=4.0))
    info = shim.get("/model/info").json()
    attempts = [(a["source"], a["outcome"]) for a in info["load_attempts"]]
    assert attempts == [("registry", "failed"), ("blob_fallback", "loaded")]
    assert info["load_attempts"][0]["uri"] == f"models:/{stack.model_name}@broken"
    assert info["load_attempts"][0]["error"]
    assert (info["version"], info["source"]) == (stack.version, "blob_fallback")
    assert shim.post("/predict", json_body={"instances": [ROW]}).status_code == 200


def test_registry_lost_after_start_keeps_serving_and_counts_refresh_failures(
    stack: Stack, shims: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app")
    shim = shims(stack.settings(registry_timeout_seconds=TIMEOUT, model_refresh_seconds=0.5))
    assert shim.post("/predict", json_body={"instances": [ROW]}).json()["model"]["source"] == "registry"
    stack.mlflow.stop()
    manager = shim.manager
    assert _wait_for(lambda: manager.stats.refresh_failures >= 2, 30), manager.stats

    response = shim.post("/predict", json_body={"instances": [ROW]})
    assert response.status_code == 200, response
    assert response.json()["model"] == {
        "name": stack.model_name,
        "version": stack.version,
        "source": "registry",
    }
    info = shim.get("/model/info").json()
    assert info["refresh"]["failures"] >= 2
    assert "unreachable" in info["refresh"]["last_error"]
    health = shim.get("/health").json()
    assert health["status"] == "ready" and health["registry"]["reachable"] is False
    assert any("model refresh failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("returning", ["registry", "blob"])
def test_everything_down_degrades_then_recovers_by_itself(stack: Stack, shims: Any, returning: str) -> None:
    overrides: dict[str, Any] = {}
    if returning == "registry":
        stack.mlflow.stop()
    else:  # a registry that never comes back: an address with nothing listening
        overrides["mlflow_tracking_uri"] = f"http://127.0.0.1:{free_port()}"
    stack.azurite.stop()
    shim = shims(
        stack.settings(
            registry_timeout_seconds=TIMEOUT,
            startup_wait_seconds=10.0,
            retry_initial_seconds=0.5,
            retry_max_seconds=2.0,
            **overrides,
        )
    )
    health = shim.get("/health")
    assert health.status_code == 503
    assert health.headers["retry-after"] == "5"
    body = health.json()
    assert body["error"] == "model_unavailable"
    assert "registry" in body["reason"] and "blob_fallback" in body["reason"]
    for path in ("/predict", "/invocations"):
        refused = shim.post(path, json_body={"instances": [ROW]})
        assert refused.status_code == 503
        assert refused.json()["error"] == "model_unavailable"
        assert refused.json()["reason"]
    assert shim.get("/health/live").status_code == 200

    (stack.mlflow if returning == "registry" else stack.azurite).start()
    assert _wait_for(lambda: shim.get("/health").status_code == 200, 60), shim.get("/health")
    source = "registry" if returning == "registry" else "blob_fallback"
    response = shim.post("/predict", json_body={"instances": [ROW]})
    assert response.status_code == 200, response
    assert response.json()["model"]["source"] == source
    assert shim.manager.stats.load_failures >= 1
