"""A registry writer without the operator's key cannot choose what is deserialized.

Review finding F1: a version whose skops file calls ``os.system`` plus the tag
``serving.skops_trusted_types = ["os.system"]`` ran the command on both load paths and in
``publish-fallback``. F5: MLmodel's ``pickled_model`` could name a file outside the model
directory. Each test writes what the attacker writes, through the real MLflow server, and
checks the marker file the payload would create.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import skops.io

from app.lifecycle import promotion, signing
from app.lifecycle.fallback_publisher import publish_version
from app.lifecycle.training import build_pipeline, load_data
from app.model_loading.chain import load_chain
from app.model_loading.types import LoadError
from app.signing import bundle
from app.signing.claims import ServingClaims
from app.signing.signers import FileKeySigner
from app.signing.tree import digest_tree
from tests.support.models import ROW
from tests.trust.attacks import model_directory, register_directory, touch, with_command

OLD_TRUST_TAG = "serving.skops_trusted_types"


@pytest.fixture(params=["rest", "mlflow-library"])
def load_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both registry load paths: the REST fetcher, and the mlflow library (what azureml://
    uses), forced the way the review forced it."""
    if request.param == "mlflow-library":
        monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    return str(request.param)


@pytest.fixture
def name() -> str:
    return f"trust-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pipeline() -> Any:
    features, target = load_data()
    return build_pipeline(1.0).fit(features, target)


@pytest.fixture
def registry_only(settings_factory: Callable[..., Any], name: str) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        values = {"model_name": name, "model_alias": "champion", "fallback_enabled": False}
        return settings_factory(**(values | overrides))

    return make


def _evil_version(settings: Any, name: str, pipeline: Any, marker: Path, tmp_path: Path) -> str:
    evil = with_command(skops.io.dumps(pipeline), touch(marker))
    directory = model_directory(tmp_path / uuid.uuid4().hex, evil)
    version = register_directory(settings, name, directory, tags={OLD_TRUST_TAG: json.dumps(["os.system"])})
    from mlflow import MlflowClient

    MlflowClient(settings.mlflow_tracking_uri).set_registered_model_alias(name, "champion", version)
    return version


def _refused(settings: Any) -> str:
    result = load_chain(settings)
    assert result.model is None, "the attacker's version was loaded"
    return str(result.attempts[0].error)


def test_f1_trusted_types_tag_runs_nothing(
    registry_only: Callable[..., Any], name: str, pipeline: Any, tmp_path: Path, load_path: str
) -> None:
    marker = tmp_path / "pwned"
    settings = registry_only()
    _evil_version(settings, name, pipeline, marker, tmp_path)
    error = _refused(settings)
    assert "is not signed" in error and "python -m app sign" in error
    assert not marker.exists()


def test_f1_publish_fallback_runs_nothing(
    registry_only: Callable[..., Any], name: str, pipeline: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    settings = registry_only()
    version = _evil_version(settings, name, pipeline, marker, tmp_path)
    with pytest.raises(LoadError, match="is not signed"):
        publish_version(settings, name, version)
    decision = promotion.promote(settings, name, version, alias="prod")
    assert not decision.promoted and "is not signed" in decision.reason
    assert not marker.exists()


def test_f1_operator_signing_never_loads_and_names_the_type(
    registry_only: Callable[..., Any], name: str, pipeline: Any, tmp_path: Path
) -> None:
    """`sign` lists what the skops file needs without loading it; os.system must be confirmed."""
    marker = tmp_path / "pwned"
    settings = registry_only()
    version = _evil_version(settings, name, pipeline, marker, tmp_path)
    with pytest.raises(signing.SigningRefused, match=r"os\.system"):
        signing.sign_version(settings, name, version)
    assert not marker.exists()


def test_f1_signature_copied_from_another_version_is_refused(
    registry_only: Callable[..., Any], name: str, pipeline: Any, tmp_path: Path, load_path: str
) -> None:
    from mlflow import MlflowClient

    marker = tmp_path / "pwned"
    settings = registry_only()
    genuine = register_directory(
        settings, name, model_directory(tmp_path / "genuine", skops.io.dumps(pipeline))
    )
    signing.sign_version(settings, name, genuine)
    client = MlflowClient(settings.mlflow_tracking_uri)
    stolen = client.get_model_version(name, genuine).tags["serving.signature"]
    evil = _evil_version(settings, name, pipeline, marker, tmp_path)
    client.set_model_version_tag(name, evil, "serving.signature", stolen)
    assert "made for another model or version" in _refused(settings)
    assert not marker.exists()


def test_f1_signature_relabelled_for_the_evil_version_is_refused(
    registry_only: Callable[..., Any],
    name: str,
    pipeline: Any,
    tmp_path: Path,
    signing_keys: tuple[Path, Path],
    load_path: str,
) -> None:
    """Even with a valid signature *for this version* over the genuine files, the evil
    bytes do not match the signed digest (the registry writer swapped the artifact)."""
    from mlflow import MlflowClient

    marker = tmp_path / "pwned"
    settings = registry_only()
    evil = _evil_version(settings, name, pipeline, marker, tmp_path)
    genuine_dir = model_directory(tmp_path / "genuine", skops.io.dumps(pipeline))
    signer = FileKeySigner(signing_keys[0])
    claims = ServingClaims(model_name=name, flavor="sklearn", format="skops", version=evil)
    signed = bundle.sign(digest_tree(genuine_dir), claims, name, signer.public_key(), signer.sign)
    MlflowClient(settings.mlflow_tracking_uri).set_model_version_tag(
        name, evil, "serving.signature", signed.decode()
    )
    assert "does not match its signed sha256" in _refused(settings)
    assert not marker.exists()


def test_unsigned_version_is_refused_then_sign_makes_it_loadable(
    registry_only: Callable[..., Any], name: str, pipeline: Any, tmp_path: Path, load_path: str
) -> None:
    from mlflow import MlflowClient

    settings = registry_only()
    version = register_directory(
        settings, name, model_directory(tmp_path / "plain", skops.io.dumps(pipeline))
    )
    MlflowClient(settings.mlflow_tracking_uri).set_registered_model_alias(name, "champion", version)
    error = _refused(settings)
    assert f"models:/{name}/{version} is not signed" in error
    assert f"python -m app sign --model-name {name} --version {version}" in error

    result = signing.sign_version(settings, name, version)
    assert set(result.files) == {"MLmodel", "model.skops"}
    loaded = load_chain(settings)
    assert loaded.model is not None, loaded.reason
    assert loaded.model.trust == "signed" and loaded.model.signed_by == result.key_id
    import pandas as pd

    frame = pd.DataFrame([ROW])
    assert loaded.model.predict(frame).tolist() == pipeline.predict(frame).tolist()


def test_signature_by_a_key_the_server_does_not_trust(
    registry_only: Callable[..., Any], name: str, pipeline: Any, tmp_path: Path, load_path: str
) -> None:
    from app.signing.keys import generate

    settings = registry_only()
    version = register_directory(
        settings, name, model_directory(tmp_path / "plain", skops.io.dumps(pipeline))
    )
    stranger, _ = generate(tmp_path / "stranger")
    signing.sign_version(settings, name, version, signer=FileKeySigner(stranger))
    from mlflow import MlflowClient

    MlflowClient(settings.mlflow_tracking_uri).set_registered_model_alias(name, "champion", version)
    assert "signed by a key that is not configured" in _refused(settings)


@pytest.fixture
def outside_file(tmp_path: Path, pipeline: Any) -> Iterator[Path]:
    path = tmp_path / "outside_artifacts.skops"
    path.write_bytes(skops.io.dumps(pipeline))
    yield path


@pytest.mark.parametrize("kind", ["relative", "absolute"])
def test_f5_pickled_model_outside_the_directory_is_refused(
    registry_only: Callable[..., Any],
    name: str,
    tmp_path: Path,
    outside_file: Path,
    signing_keys: tuple[Path, Path],
    load_path: str,
    kind: str,
) -> None:
    """Even signed by the operator (a key mistakenly used), and even in migration mode, an
    MLmodel that names a file outside its directory reads nothing there."""
    from mlflow import MlflowClient

    target = ("../" * 12 + str(outside_file).lstrip("/")) if kind == "relative" else str(outside_file)
    directory = model_directory(tmp_path / "trav", b"", pickled_model=target, write_file_as=None)
    settings = registry_only()
    version = register_directory(settings, name, directory)
    client = MlflowClient(settings.mlflow_tracking_uri)
    client.set_registered_model_alias(name, "champion", version)
    with pytest.raises(signing.SigningRefused, match="plain relative path"):
        signing.sign_version(settings, name, version)
    migration = _refused(registry_only(require_signed_models=False))
    assert "not a plain relative path inside the model directory" in migration

    signer = FileKeySigner(signing_keys[0])
    claims = ServingClaims(model_name=name, flavor="sklearn", format="skops", version=version)
    signed = bundle.sign(digest_tree(directory), claims, name, signer.public_key(), signer.sign)
    client.set_model_version_tag(name, version, "serving.signature", signed.decode())
    assert "not a plain relative path inside the model directory" in _refused(settings)


def test_mlmodel_trusted_types_are_never_used(
    registry_only: Callable[..., Any], name: str, tmp_path: Path
) -> None:
    """skops types listed in MLmodel (MLflow's own loader trusts them) are ignored: only the
    signed claims and SKOPS_TRUSTED_TYPES count."""
    import mlflow

    from tests.support.models import fitted_custom_pipeline

    settings = registry_only(model_alias=None)
    model = fitted_custom_pipeline()
    untrusted = sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment("trust-attacks")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=untrusted,
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    with pytest.raises(signing.SigningRefused, match=r"tests\.reliability\.custom_code\.double"):
        signing.sign_version(settings, name, version)
    migration = registry_only(model_alias=None, require_signed_models=False)
    assert "types nobody trusted" in _refused(migration)
    signing.sign_version(settings, name, version, trust_types=untrusted)
    loaded = load_chain(settings)
    assert loaded.model is not None, loaded.reason
