"""REQUIRE_SIGNED_MODELS=false exists for migration only: unsigned skops loads, loudly;
nothing that unpickles ever loads unsigned."""

from __future__ import annotations

import logging
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import skops.io

from app.lifecycle.fallback_publisher import publish_version
from app.model_loading.chain import load_chain
from tests.reliability.custom_code import Marker
from tests.support.models import fitted_ridge
from tests.trust.attacks import model_directory, register_directory


@pytest.fixture
def name() -> str:
    return f"trust-migration-{uuid.uuid4().hex[:6]}"


def _alias(settings: Any, name: str, version: str) -> None:
    from mlflow import MlflowClient

    MlflowClient(settings.mlflow_tracking_uri).set_registered_model_alias(name, "champion", version)


def test_unsigned_skops_loads_only_in_migration_mode_and_says_so(
    settings_factory: Callable[..., Any],
    shim_factory: Callable[..., Any],
    name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_factory(model_name=name, require_signed_models=False)
    version = register_directory(
        settings, name, model_directory(tmp_path / "m", skops.io.dumps(fitted_ridge()))
    )
    _alias(settings, name, version)
    with caplog.at_level(logging.WARNING, logger="app.model_loading.trust"):
        result = load_chain(settings)
    assert result.model is not None, result.reason
    assert result.model.trust == "unsigned"
    assert any("UNSIGNED" in r.getMessage() for r in caplog.records)
    shim = shim_factory(settings)
    info = shim.get("/model/info").json()
    assert (info["signed"], info["trust"]) == (False, "unsigned")
    assert "model_info" in shim.get("/metrics").body.decode()

    strict = load_chain(settings_factory(model_name=name, fallback_enabled=False))
    assert strict.model is None and "is not signed" in strict.reason

    publish_version(settings, name, version)  # an unsigned copy, for the same migration window
    blob = load_chain(
        settings_factory(model_name=name, use_mlflow_registry=False, require_signed_models=False)
    )
    assert blob.model is not None and blob.model.trust == "unsigned"
    refused = load_chain(settings_factory(model_name=name, use_mlflow_registry=False))
    assert refused.model is None and "is not signed" in refused.reason


def test_unsigned_pickle_never_loads_even_with_allow_pickle(
    settings_factory: Callable[..., Any], name: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    settings = settings_factory(
        model_name=name, require_signed_models=False, allow_pickle=True, fallback_enabled=False
    )
    directory = model_directory(
        tmp_path / "m",
        pickle.dumps(Marker(str(marker))),
        pickled_model="model.pkl",
        write_file_as="model.pkl",
        serialization_format="cloudpickle",
    )
    version = register_directory(settings, name, directory)
    _alias(settings, name, version)
    result = load_chain(settings)
    assert result.model is None
    assert "an unsigned pickle is never loaded" in result.reason
    assert not marker.exists()


def test_signing_a_pickle_needs_explicit_confirmation(
    settings_factory: Callable[..., Any], name: str, tmp_path: Path
) -> None:
    from app.lifecycle.signing import SigningRefused, sign_version

    marker = tmp_path / "pwned"
    settings = settings_factory(model_name=name)
    directory = model_directory(
        tmp_path / "m",
        pickle.dumps(Marker(str(marker))),
        pickled_model="model.pkl",
        write_file_as="model.pkl",
        serialization_format="cloudpickle",
    )
    version = register_directory(settings, name, directory)
    with pytest.raises(SigningRefused, match="--pickle"):
        sign_version(settings, name, version)
    assert not marker.exists()  # signing reads bytes, never unpickles
