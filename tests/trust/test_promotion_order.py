"""A promotion never half-happens (review F12), and a stale fallback is visible."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from app.cli import main
from app.lifecycle import promotion
from app.lifecycle.training import train
from app.model_loading import fetch_blob
from devstack.services import free_port


@pytest.fixture(scope="module")
def two_versions(settings_factory: Callable[..., Any]) -> dict[str, Any]:
    name = f"trust-promote-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(model_name=name)
    first = train(settings, alpha=1.0)
    second = train(settings, alpha=2.0)
    decision = promotion.promote(settings, name, first.version, alias="champion")
    assert decision.promoted and decision.fallback_version == first.version
    return {"name": name, "v1": first.version, "v2": second.version}


def _cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Any,
    *argv: str,
    storage: str | None,
) -> tuple[int, str, str]:
    for key in ("MODEL_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage", "MODEL_STORAGE_ACCOUNT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("MODEL_SIGNING_PUBLIC_KEYS", settings.model_signing_public_keys)
    if storage is not None:
        monkeypatch.setenv("MODEL_STORAGE_CONNECTION_STRING", storage)
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_failed_fallback_publish_leaves_the_alias_where_it_was(
    settings_factory: Callable[..., Any],
    two_versions: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, v1, v2 = two_versions["name"], two_versions["v1"], two_versions["v2"]
    settings = settings_factory(model_name=name)
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"
    )
    code, _, err = _cli(
        monkeypatch, capsys, settings, "promote", "--model-name", name, "--version", v2, storage=dead
    )
    assert code != 0 and "blob fallback failed, so nothing was promoted" in err
    assert promotion.alias_holder(settings, name, "champion") == v1
    assert fetch_blob.read_pointer(settings, name).version == v1


def test_promote_without_storage_is_an_error_unless_opted_out(
    settings_factory: Callable[..., Any],
    two_versions: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, v1, v2 = two_versions["name"], two_versions["v1"], two_versions["v2"]
    settings = settings_factory(model_name=name)
    code, _, err = _cli(
        monkeypatch,
        capsys,
        settings,
        "promote",
        "--model-name",
        name,
        "--version",
        v2,
        "--alias",
        "staging",
        storage=None,
    )
    assert code == 2 and "no blob storage is configured" in err and "--no-fallback" in err
    assert promotion.alias_holder(settings, name, "staging") is None

    code, out, _ = _cli(
        monkeypatch,
        capsys,
        settings,
        "promote",
        "--model-name",
        name,
        "--version",
        v2,
        "--alias",
        "staging",
        "--no-fallback",
        storage=None,
    )
    assert code == 0 and json.loads(out)["fallback_version"] is None
    assert promotion.alias_holder(settings, name, "staging") == v2
    assert fetch_blob.read_pointer(settings, name).version == v1  # untouched


def test_fallback_out_of_sync_is_reported(
    settings_factory: Callable[..., Any], shim_factory: Callable[..., Any], two_versions: dict[str, Any]
) -> None:
    name, v1, v2 = two_versions["name"], two_versions["v1"], two_versions["v2"]
    in_sync = shim_factory(settings_factory(model_name=name))
    health = in_sync.get("/health").json()
    assert health["model"]["version"] == v1
    _wait_for_fallback_state(in_sync)
    assert in_sync.get("/health").json()["fallback"] == {"version": v1, "in_sync": True}

    promotion.promote(settings_factory(model_name=name), name, v2, alias="canary", publish=False)
    stale = shim_factory(settings_factory(model_name=name, model_alias="canary"))
    assert stale.get("/health").json()["model"]["version"] == v2
    _wait_for_fallback_state(stale)
    assert stale.get("/health").json()["fallback"] == {"version": v1, "in_sync": False}
    info = stale.get("/model/info").json()
    assert info["fallback_in_sync"] is False and info["fallback"]["version"] == v1
    metrics = stale.get("/metrics").body.decode()
    assert "model_fallback_in_sync 0.0" in metrics
    assert f'model_fallback_info{{version="{v1}"}} 1.0' in metrics


def _wait_for_fallback_state(shim: Any, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while shim.manager.fallback.checked_at is None:
        assert time.monotonic() < deadline, "the fallback pointer was never read"
        time.sleep(0.05)


def test_registry_writes_disabled_answers_403_naming_the_cli(
    settings_factory: Callable[..., Any], shim_factory: Callable[..., Any], two_versions: dict[str, Any]
) -> None:
    name = two_versions["name"]
    settings = settings_factory(model_name=name, admin_api_key="k" * 24, registry_writes_enabled=False)
    shim = shim_factory(settings)
    headers = {"x-admin-key": "k" * 24}
    for route, body in (("promote", {"version": two_versions["v2"]}), ("rollback", {})):
        response = shim.post(f"/registry/models/{name}/{route}", json_body=body, headers=headers)
        assert response.status_code == 403, response
        assert response.json()["error"] == "registry_writes_disabled"
        assert "python -m app promote|rollback" in response.json()["message"]
    assert shim.get(f"/registry/models/{name}", headers=headers).status_code == 200
    assert promotion.alias_holder(settings, name, "champion") == two_versions["v1"]
