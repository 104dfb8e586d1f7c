"""Fallback artifacts are trusted only when verified: pointer faults, digests, classes, types.

Blobs are written by hand into the session's Azurite under this module's own model names;
the registry is left out (``use_mlflow_registry=False``) unless a test needs it.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.model_loading import artifacts, blob_fallback
from app.model_loading.chain import load_chain
from app.model_loading.types import LoadError, class_path
from devstack.services import free_port
from tests.reliability import blobs
from tests.reliability.custom_code import Marker
from tests.support.models import ROW

RIDGE = "sklearn.linear_model._ridge.Ridge"
PIPELINE = "sklearn.pipeline.Pipeline"
CUSTOM = "tests.reliability.custom_code.double"


@pytest.fixture
def name() -> str:
    return f"reliability-trust-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def blob_only(settings_factory: Any, name: str) -> Any:
    def make(**overrides: Any) -> Any:
        return settings_factory(model_name=name, use_mlflow_registry=False, **overrides)
    return make


def _failed_fallback(settings: Any) -> str:
    result = load_chain(settings)
    assert result.model is None
    attempt = result.attempts[-1]
    assert (attempt.source, attempt.outcome) == ("blob_fallback", "failed")
    return str(attempt.error)


# --- the pointer -------------------------------------------------------------------------

def test_missing_pointer(blob_only: Any, name: str) -> None:
    error = _failed_fallback(blob_only())
    assert f"{name}/current.json does not exist" in error


@pytest.mark.parametrize(("document", "expected"), [
    (b"{not json", "is malformed"),
    (b'{"model_name": "x"}', "is malformed (version, blob, sha256)"),
    (b"[]", "is malformed"),
])
def test_malformed_pointer(blob_only: Any, name: str, document: bytes, expected: str) -> None:
    settings = blob_only()
    blobs.upload(settings, blob_fallback.pointer_path(name), document)
    assert expected in _failed_fallback(settings)


def test_pointer_to_missing_blob(blob_only: Any, name: str) -> None:
    settings = blob_only()
    doc = blobs.pointer(name, b"never uploaded", fmt=artifacts.SKOPS, model_class=RIDGE)
    blobs.upload(settings, blob_fallback.pointer_path(name), json.dumps(doc).encode())
    assert f"{name}/7/model.skops does not exist" in _failed_fallback(settings)


def test_pointer_outside_its_model_folder(blob_only: Any, name: str) -> None:
    settings = blob_only()
    doc = blobs.pointer(name, b"x", fmt=artifacts.SKOPS, model_class=RIDGE)
    doc["blob"] = "some-other-model/1/model.skops"
    blobs.upload(settings, blob_fallback.pointer_path(name), json.dumps(doc).encode())
    assert f"points outside {name}/" in _failed_fallback(settings)


def test_pointer_fault_is_reported_after_the_registry_attempt(shim_factory: Any,
                                                              settings_factory: Any,
                                                              name: str) -> None:
    settings = settings_factory(model_name=name, registry_timeout_seconds=2.0,
                                mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}",
                                startup_wait_seconds=10.0)
    blobs.upload(settings, blob_fallback.pointer_path(name), b"{broken")
    shim = shim_factory(settings)
    health = shim.get("/health")
    assert health.status_code == 503
    assert "current.json is malformed" in health.json()["reason"]
    info = shim.get("/model/info")
    assert info.status_code == 503
    assert [(a["source"], a["outcome"]) for a in info.json()["load_attempts"]] == [
        ("registry", "failed"), ("blob_fallback", "failed")]


# --- digests and pickles -----------------------------------------------------------------

def test_marker_pickle_is_live(tmp_path: Path) -> None:
    """Control for the two tests below: unpickling the payload does create the file."""
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Marker(str(control))))
    assert control.exists()


def test_tampered_pickle_is_never_unpickled(blob_only: Any, name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    settings = blob_only(allow_pickle=True)
    genuine = blobs.pickled(blobs.fitted_ridge())
    blobs.publish(settings, name, blobs.pickled(Marker(str(marker))), fmt=artifacts.PICKLE,
                  model_class=RIDGE, sha256=artifacts.sha256_hex(genuine))
    with pytest.raises(LoadError, match=r"digest mismatch.*refusing to deserialize"):
        blob_fallback.load(settings, name)
    assert "digest mismatch" in _failed_fallback(settings)
    assert not marker.exists()


def test_pickle_is_refused_without_allow_pickle(blob_only: Any, name: str,
                                                tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    settings = blob_only()  # ALLOW_PICKLE defaults to off
    blobs.publish(settings, name, blobs.pickled(Marker(str(marker))), fmt=artifacts.PICKLE,
                  model_class=RIDGE)
    with pytest.raises(LoadError, match="ALLOW_PICKLE is off"):
        blob_fallback.load(settings, name)
    assert not marker.exists()


def test_tampered_skops_is_refused(blob_only: Any, name: str) -> None:
    settings = blob_only()
    genuine = artifacts.serialize_skops(blobs.fitted_ridge())
    tampered = bytearray(genuine)
    tampered[len(tampered) // 2] ^= 0xFF
    blobs.publish(settings, name, bytes(tampered), fmt=artifacts.SKOPS, model_class=RIDGE,
                  sha256=artifacts.sha256_hex(genuine))
    with pytest.raises(LoadError, match="digest mismatch"):
        blob_fallback.load(settings, name)


@pytest.mark.parametrize("fmt", [artifacts.SKOPS, artifacts.PICKLE])
def test_model_of_another_class_than_the_pointer_says_is_refused(blob_only: Any, name: str,
                                                                 fmt: str) -> None:
    settings = blob_only(allow_pickle=True)
    model = blobs.fitted_ridge()
    data = artifacts.serialize_skops(model) if fmt == artifacts.SKOPS else blobs.pickled(model)
    blobs.publish(settings, name, data, fmt=fmt, model_class=PIPELINE)
    expected = re.escape(f"holds a {RIDGE}, but the pointer says {PIPELINE}")
    with pytest.raises(LoadError, match=expected):
        blob_fallback.load(settings, name)


def test_verified_pickle_loads_when_the_operator_allows_it(blob_only: Any, name: str) -> None:
    settings = blob_only(allow_pickle=True)
    blobs.publish(settings, name, blobs.pickled(blobs.fitted_ridge()), fmt=artifacts.PICKLE,
                  model_class=RIDGE)
    assert blob_fallback.load(settings, name).model_class == RIDGE


# --- skops trusted types -----------------------------------------------------------------

def _custom_skops() -> tuple[Any, bytes, list[str]]:
    model = blobs.fitted_custom_pipeline()
    data = artifacts.serialize_skops(model)
    untrusted = artifacts.untrusted_types(data)
    assert CUSTOM in untrusted
    return model, data, untrusted


def test_skops_untrusted_type_needs_the_operator(blob_only: Any, name: str) -> None:
    import pandas as pd

    model, data, untrusted = _custom_skops()
    blobs.publish(blob_only(), name, data, fmt=artifacts.SKOPS, model_class=PIPELINE)
    with pytest.raises(LoadError, match=r"types nobody trusted: .*" + re.escape(CUSTOM)):
        blob_fallback.load(blob_only(), name)

    loaded = blob_fallback.load(blob_only(skops_trusted_types=untrusted), name)
    frame = pd.DataFrame([ROW])
    np.testing.assert_allclose(loaded.predict(frame), model.predict(frame))


def test_registry_ignores_the_trusted_types_in_mlmodel(settings_factory: Any,
                                                       mlflow_server: Any, name: str) -> None:
    import mlflow
    from mlflow.models import Model

    model, _, untrusted = _custom_skops()
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_experiment("reliability-trust")
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="skops",
                                        skops_trusted_types=untrusted,
                                        registered_model_name=name)
    flavor = Model.load(info.model_uri).flavors["sklearn"]
    assert CUSTOM in json.dumps(flavor)  # MLflow's own loader would trust the type

    settings = settings_factory(model_name=name, model_alias=None, fallback_enabled=False)
    refused = load_chain(settings)
    assert refused.model is None
    assert "types nobody trusted" in str(refused.attempts[0].error)
    assert CUSTOM in str(refused.attempts[0].error)

    trusted = load_chain(settings_factory(model_name=name, model_alias=None,
                                          fallback_enabled=False,
                                          skops_trusted_types=untrusted))
    assert trusted.model is not None and trusted.model.model_class == PIPELINE


def test_mlflow_pickle_switch_follows_our_setting(settings_factory: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from app.model_loading.registry import configure_mlflow_client

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    configure_mlflow_client(settings_factory())
    assert os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"
    configure_mlflow_client(settings_factory(allow_pickle=True))
    assert os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "true"


def test_class_path_names_the_real_class() -> None:
    assert class_path(blobs.fitted_ridge()) == RIDGE


def test_registry_load_ignores_mlflows_global_tracking_uri(settings_factory: Any,
                                                           champion: dict[str, Any]) -> None:
    """A stale process-global URI (left by any MLflow call) must not redirect our loads."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"http://127.0.0.1:{free_port()}")
    try:
        result = load_chain(settings_factory(model_version=champion["version"],
                                             fallback_enabled=False))
    finally:
        mlflow.set_tracking_uri(previous)
    assert result.model is not None, result.reason
    assert result.model.source == "registry"
