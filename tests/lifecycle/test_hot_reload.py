"""Acceptance: a running app follows its alias (periodic refresh, signed webhooks) without restarts."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from app.cli import main
from app.lifecycle.training import train
from app.main import create_app
from app.model_loading.fetch_mlflow import client
from app.security import mlflow_signature
from tests.support.http_server import serve
from tests.support.models import ROW

MODEL = "lifecycle-reload"
SECRET = "webhook-secret-for-tests"


@pytest.fixture(scope="module")
def versions(settings_factory: Callable[..., Any]) -> list[str]:
    """Four versions of MODEL (different alphas), so every alias move names a new version."""
    settings = settings_factory(model_name=MODEL)
    return [train(settings, alpha=alpha, model_name=MODEL).version for alpha in (0.5, 1.0, 5.0, 20.0)]


@pytest.fixture
def registry(settings_factory: Callable[..., Any], versions: list[str]) -> Iterator[Any]:
    """An MLflow client with MODEL's champion reset to the first version."""
    mlflow_client = client(settings_factory())
    mlflow_client.set_registered_model_alias(MODEL, "champion", versions[0])
    yield mlflow_client


def _served_version(shim: Any) -> str:
    response = shim.post("/predict", json_body={"instances": [ROW]})
    assert response.status_code == 200, response
    return response.headers["x-model-version"]


def _signed(
    payload: dict[str, Any],
    secret: str = SECRET,
    *,
    delivery: str | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    delivery = delivery or str(uuid.uuid4())
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return body, {
        "content-type": "application/json",
        "x-mlflow-delivery-id": delivery,
        "x-mlflow-timestamp": stamp,
        "x-mlflow-signature": mlflow_signature(secret, delivery, stamp, body),
    }


def _alias_event(name: str, version: str) -> dict[str, Any]:
    return {
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "2026-11-23T00:00:00+00:00",
        "data": {"name": name, "alias": "champion", "version": version},
    }


def test_periodic_refresh_follows_the_alias(
    shim_factory: Callable[..., Any], settings_factory: Callable[..., Any], registry: Any, versions: list[str]
) -> None:
    refresh = 1.0
    shim = shim_factory(settings_factory(model_name=MODEL, model_refresh_seconds=refresh))
    assert _served_version(shim) == versions[0]
    registry.set_registered_model_alias(MODEL, "champion", versions[1])
    moved = time.monotonic()
    # One refresh interval plus the time to load the new version (bounded by its own budget).
    deadline = moved + refresh + shim.manager.settings.model_download_timeout_seconds
    while _served_version(shim) != versions[1]:
        assert time.monotonic() < deadline, "the app did not follow the alias"
        time.sleep(0.1)
    assert shim.manager.stats.swaps >= 2
    info = shim.get("/model/info").json()
    assert info["version"] == versions[1] and info["refresh"]["refreshes"] >= 1


def test_signed_mlflow_webhook_triggers_an_immediate_refresh(
    settings_factory: Callable[..., Any],
    registry: Any,
    versions: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Periodic refresh is off: only the webhook can make this app notice the move.
    settings = settings_factory(model_name=MODEL, model_refresh_seconds=0.0, webhook_secret=SECRET)
    app = create_app(settings)
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:

        def version() -> str:
            response = http.post("/predict", json={"instances": [ROW]})
            assert response.status_code == 200, response.text
            return response.headers["x-model-version"]

        assert version() == versions[0]
        # Registered the way operators do it: the CLI, with the app's own secret.
        monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
        monkeypatch.setenv("MLFLOW_WEBHOOK_SECRET", SECRET)
        name = f"serving-{uuid.uuid4().hex[:8]}"
        assert main(["register-webhook", "--url", f"{base}/hooks/mlflow", "--name", name]) == 0
        hook = json.loads(capsys.readouterr().out)
        assert hook["events"] == ["model_version_alias.created", "model_version_alias.deleted"]
        assert main(["register-webhook", "--url", f"{base}/hooks/mlflow", "--name", name]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["updated"] and again["webhook_id"] == hook["webhook_id"]
        try:
            time.sleep(1.2)  # the tracking server caches webhook lists for MLFLOW_WEBHOOK_CACHE_TTL
            registry.set_registered_model_alias(MODEL, "champion", versions[2])
            deadline = time.monotonic() + 20
            while version() != versions[2]:
                assert time.monotonic() < deadline, "the webhook did not trigger a refresh"
                time.sleep(0.1)
        finally:
            registry.delete_webhook(hook["webhook_id"])
        manager = app.state.services.manager
        assert manager.stats.refreshes >= 1
        manager.close()


def test_webhooks_are_rejected_unless_signed(
    shim_factory: Callable[..., Any], settings_factory: Callable[..., Any], registry: Any, versions: list[str]
) -> None:
    disabled = shim_factory(settings_factory(model_name=MODEL))
    body, headers = _signed(_alias_event(MODEL, versions[1]))
    response = disabled.post("/hooks/mlflow", body=body, headers=headers)
    assert response.status_code == 403 and response.json()["error"] == "webhooks_disabled"

    shim = shim_factory(settings_factory(model_name=MODEL, webhook_secret=SECRET))
    assert _served_version(shim) == versions[0]
    refreshes = shim.manager.stats.refreshes
    unsigned = shim.post("/hooks/mlflow", body=body, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401 and unsigned.json()["error"] == "unsigned_webhook"
    body_wrong, wrong = _signed(_alias_event(MODEL, versions[1]), secret="not-the-secret")
    forged = shim.post("/hooks/mlflow", body=body_wrong, headers=wrong)
    assert forged.status_code == 401 and forged.json()["error"] == "bad_signature"
    tampered = shim.post("/hooks/mlflow", body=body.replace(b"champion", b"challenger"), headers=headers)
    assert tampered.status_code == 401 and tampered.json()["error"] == "bad_signature"
    body_old, old = _signed(_alias_event(MODEL, versions[1]), timestamp=int(time.time()) - 3600)
    stale = shim.post("/hooks/mlflow", body=body_old, headers=old)
    assert stale.status_code == 401 and stale.json()["error"] == "stale_webhook"
    time.sleep(0.5)
    assert shim.manager.stats.refreshes == refreshes, "a rejected webhook caused a refresh"

    body_other, other = _signed(_alias_event("some-other-model", "1"))
    ignored = shim.post("/hooks/mlflow", body=body_other, headers=other)
    assert ignored.status_code == 202 and ignored.json()["refreshing"] is False
    not_json, not_json_headers = b"{not json", _signed({})[1]
    not_json_headers["x-mlflow-signature"] = mlflow_signature(
        SECRET, not_json_headers["x-mlflow-delivery-id"], not_json_headers["x-mlflow-timestamp"], not_json
    )
    assert shim.post("/hooks/mlflow", body=not_json, headers=not_json_headers).status_code == 400

    registry.set_registered_model_alias(MODEL, "champion", versions[1])
    accepted = shim.post("/hooks/mlflow", body=body, headers=headers)
    assert accepted.status_code == 202 and accepted.json()["refreshing"] is True
    replay = shim.post("/hooks/mlflow", body=body, headers=headers)
    assert replay.status_code == 202 and replay.json()["status"] == "duplicate"
    deadline = time.monotonic() + 20
    while _served_version(shim) != versions[1]:
        assert time.monotonic() < deadline, "the signed webhook did not refresh the model"
        time.sleep(0.1)


def test_no_failed_prediction_while_the_alias_moves(
    shim_factory: Callable[..., Any], settings_factory: Callable[..., Any], registry: Any, versions: list[str]
) -> None:
    """At least 2,000 predictions while the alias moves three times: none fails."""
    shim = shim_factory(settings_factory(model_name=MODEL, model_refresh_seconds=0.3))
    assert _served_version(shim) == versions[0]
    moves = versions[1:]  # three moves, each to a version never served before
    champions = {versions[0]}
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client_loop() -> None:
        while not stop.is_set():
            response = shim.post("/predict", json_body={"instances": [ROW, ROW]})
            with lock:
                results.append((response.status_code, response.headers.get("x-model-version")))

    def served(version: str) -> bool:
        with lock:
            return any(v == version for _, v in results[-50:])

    with ThreadPoolExecutor(max_workers=8) as pool:
        workers = [pool.submit(client_loop) for _ in range(8)]
        for version in moves:
            time.sleep(0.5)
            registry.set_registered_model_alias(MODEL, "champion", version)
            champions.add(version)
            deadline = time.monotonic() + 30
            while not served(version) and time.monotonic() < deadline:
                time.sleep(0.05)
        deadline = time.monotonic() + 120
        while len(results) < 2000 and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        for worker in workers:
            worker.result()

    assert len(results) >= 2000
    failures = [status for status, _ in results if status != 200]
    assert failures == []
    served_versions = {version for _, version in results}
    assert served_versions <= champions, served_versions - champions
    assert served_versions == champions, "every move should have been served"
    assert shim.manager.stats.swaps >= 4


def test_register_webhook_refuses_to_create_an_unsigned_webhook(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MLFLOW_WEBHOOK_SECRET", raising=False)
    assert main(["register-webhook", "--url", "https://example.invalid/hooks/mlflow"]) == 2
    assert "MLFLOW_WEBHOOK_SECRET" in capsys.readouterr().err
