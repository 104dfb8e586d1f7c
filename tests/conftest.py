"""Session-wide real services: an MLflow tracking server and Azurite, on free ports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.services import MLflowServer, azurite

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
# `python -m app` subprocesses must not pick up a developer's local.settings.json (app/local_settings.py).
os.environ.setdefault("LOCAL_SETTINGS_FILE", "")


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def mlflow_server(services_dir: Path) -> Iterator[MLflowServer]:
    server = MLflowServer(services_dir / "mlflow")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_service(services_dir: Path) -> Iterator[Any]:
    service = azurite(services_dir / "azurite")
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def signing_keys(services_dir: Path) -> tuple[Path, Path]:
    """The session's signing key pair (private.pem, public.pem), as `python -m app keygen` makes."""
    from app.signing.keys import generate

    return generate(services_dir / "signing")


@pytest.fixture(scope="session")
def settings_factory(
    mlflow_server: MLflowServer, azurite_service: Any, signing_keys: tuple[Path, Path]
) -> Callable[..., Any]:
    """Settings pointing at the session's services and signing keys; keyword overrides by
    field name."""
    from app.settings import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "mlflow_tracking_uri": mlflow_server.url,
            "storage_connection_string": azurite_service.connection_string,
            "model_signing_key": str(signing_keys[0]),
            "model_signing_public_keys": str(signing_keys[1]),
            "model_name": "diabetes-test",
            "model_alias": "champion",
            "registry_timeout_seconds": 4.0,
            "model_refresh_seconds": 0.0,
            "startup_wait_seconds": 20.0,
            "retry_initial_seconds": 0.5,
            "retry_max_seconds": 2.0,
            "experiment_name": "tests",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def champion(settings_factory: Callable[..., Any]) -> dict[str, Any]:
    """Model 'diabetes-test': version 1 (alpha 1.0), signed, is champion, published to the
    fallback."""
    from app.lifecycle import promotion
    from app.lifecycle.signing import sign_run
    from app.lifecycle.training import train

    settings = settings_factory()
    result = train(settings, alpha=1.0)
    sign_run(settings, result.run_id)  # also servable as runs:/<run_id>/model
    decision = promotion.promote(settings, result.model_name, result.version, alias="champion")
    assert result.signed_by and decision.promoted and decision.fallback_version == result.version
    return {
        "name": result.model_name,
        "version": result.version,
        "run_id": result.run_id,
        "sha256": signed_model_file_sha256(settings, result.model_name, result.version),
        "settings": settings,
    }


def signed_model_file_sha256(settings: Any, name: str, version: str) -> str:
    """The signed sha256 of a version's scikit-learn model file (what /model/info reports)."""
    from app.model_loading import loader, trust
    from app.model_loading.refs import ModelRef

    manifest = trust.verify(settings, loader.resolve(settings, ModelRef("version", name, version)))
    assert manifest is not None
    return manifest.files["model.skops"]


@pytest.fixture
def shim_factory() -> Iterator[Callable[..., Any]]:
    from tests.support.shim import ShimClient

    clients: list[ShimClient] = []

    def make(settings: Any) -> ShimClient:
        client = ShimClient(settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
