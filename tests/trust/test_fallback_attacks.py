"""A writer of the ``models`` container cannot choose what is deserialized (review F2).

The fallback holds the version's signed files and the same signature bundle as the
registry; the pointer only names a version. Each test writes what the review's attacker
wrote — blob and pointer, digests and trust lists included — into the session's Azurite.
"""

from __future__ import annotations

import json
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import skops.io

from app.lifecycle.fallback_publisher import publish_version
from app.lifecycle.signing import sign_version
from app.lifecycle.training import build_pipeline, load_data
from app.model_loading import fetch_blob
from app.model_loading.chain import load_chain
from app.settings import Settings
from app.signing.signers import FileKeySigner
from app.storage import container
from tests.reliability.custom_code import Marker
from tests.support.models import ROW
from tests.trust.attacks import model_directory, register_directory, touch, with_command


def upload(settings: Settings, blob: str, data: bytes) -> None:
    client = container(settings, settings.fallback_container, timeout=30)
    if not client.exists():
        client.create_container()
    client.upload_blob(blob, data, overwrite=True)


def download(settings: Settings, blob: str) -> bytes:
    data = fetch_blob.download(settings, blob, 1 << 30)
    assert data is not None
    return data


@pytest.fixture(scope="module")
def published(settings_factory: Callable[..., Any]) -> dict[str, Any]:
    """A signed scikit-learn version and a signed cloudpickle version of one model."""
    from mlflow import MlflowClient

    name = f"trust-fallback-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(model_name=name)
    features, target = load_data()
    pipeline = build_pipeline(1.0).fit(features, target)
    root = Path(settings_factory().model_signing_key).parent / name
    skops_version = register_directory(
        settings, name, model_directory(root / "skops", skops.io.dumps(pipeline))
    )
    sign_version(settings, name, skops_version)
    pickle_version = register_directory(
        settings,
        name,
        model_directory(
            root / "pkl",
            pickle.dumps(pipeline),
            pickled_model="model.pkl",
            write_file_as="model.pkl",
            serialization_format="cloudpickle",
        ),
    )
    sign_version(settings, name, pickle_version, allow_pickle_format=True)
    MlflowClient(settings.mlflow_tracking_uri).set_registered_model_alias(name, "champion", skops_version)
    return {"name": name, "skops": skops_version, "pickle": pickle_version, "pipeline": pipeline}


@pytest.fixture
def blob_only(settings_factory: Callable[..., Any], published: dict[str, Any]) -> Callable[..., Any]:
    """Settings that load from the fallback only, after a clean publish of the skops version."""

    def make(version_key: str = "skops", **overrides: Any) -> Settings:
        settings = settings_factory(model_name=published["name"], use_mlflow_registry=False, **overrides)
        publish_version(settings, published["name"], published[version_key])
        return settings

    return make


def _refused(settings: Settings) -> str:
    result = load_chain(settings)
    assert result.model is None, "the tampered fallback was loaded"
    attempt = result.attempts[-1]
    assert (attempt.source, attempt.outcome) == ("blob_fallback", "failed")
    return str(attempt.error)


def test_clean_fallback_loads_signed(blob_only: Callable[..., Any], published: dict[str, Any]) -> None:
    import pandas as pd

    result = load_chain(blob_only())
    assert result.model is not None, result.reason
    model = result.model
    assert (model.source, model.version, model.trust) == ("blob_fallback", published["skops"], "signed")
    frame = pd.DataFrame([ROW])
    assert model.predict(frame).tolist() == published["pipeline"].predict(frame).tolist()


def _evil_copy(
    settings: Settings,
    name: str,
    pipeline: Any,
    marker: Path,
    folder: str,
    tmp_path: Path,
    signature: bytes | None,
) -> None:
    evil = with_command(skops.io.dumps(pipeline), touch(marker))
    directory = model_directory(tmp_path / folder, evil)
    for path in directory.iterdir():
        upload(settings, f"{name}/{folder}/{path.name}", path.read_bytes())
    if signature is not None:
        upload(settings, f"{name}/{folder}/model.sig", signature)


@pytest.mark.parametrize("signature", ["none", "copied"])
def test_f2_replaced_blob_and_pointer_run_nothing(
    blob_only: Callable[..., Any], published: dict[str, Any], tmp_path: Path, signature: str
) -> None:
    marker = tmp_path / "pwned"
    settings = blob_only()
    name = published["name"]
    genuine_sig = download(settings, f"{name}/{published['skops']}/model.sig")
    _evil_copy(
        settings,
        name,
        published["pipeline"],
        marker,
        "evil",
        tmp_path,
        genuine_sig if signature == "copied" else None,
    )
    pointer = json.loads(download(settings, fetch_blob.pointer_path(name)))
    pointer.update(
        version="evil", files=["MLmodel", "model.skops"], trusted_types=["os.system"], sha256="0" * 64
    )  # the review's rewrite
    upload(settings, fetch_blob.pointer_path(name), json.dumps(pointer).encode())
    error = _refused(settings)
    expected = "is not signed" if signature == "none" else "made for another model or version"
    assert expected in error
    assert not marker.exists()


def test_f2_legacy_pointer_with_digest_and_trust_list_is_refused(
    blob_only: Callable[..., Any], published: dict[str, Any], tmp_path: Path
) -> None:
    """The pre-signature pointer format (sha256 + trusted_types next to the blob)."""
    marker = tmp_path / "pwned"
    settings = blob_only()
    name = published["name"]
    evil = with_command(skops.io.dumps(published["pipeline"]), touch(marker))
    import hashlib

    upload(settings, f"{name}/7/model.skops", evil)
    upload(
        settings,
        fetch_blob.pointer_path(name),
        json.dumps(
            {
                "model_name": name,
                "version": "7",
                "blob": f"{name}/7/model.skops",
                "sha256": hashlib.sha256(evil).hexdigest(),
                "size_bytes": len(evil),
                "format": "skops",
                "model_class": "sklearn.pipeline.Pipeline",
                "trusted_types": ["os.system"],
                "created_at": "2026-11-30T00:00:00+00:00",
            }
        ).encode(),
    )
    assert "published before signatures" in _refused(settings)
    assert not marker.exists()


def test_f2_model_file_replaced_in_place_is_refused(
    blob_only: Callable[..., Any], published: dict[str, Any], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    settings = blob_only()
    name, version = published["name"], published["skops"]
    upload(
        settings,
        f"{name}/{version}/model.skops",
        with_command(skops.io.dumps(published["pipeline"]), touch(marker)),
    )
    assert "model.skops does not match its signed sha256" in _refused(settings)
    assert not marker.exists()


def test_f2_mlmodel_replaced_in_place_is_refused(
    blob_only: Callable[..., Any], published: dict[str, Any]
) -> None:
    settings = blob_only()
    name, version = published["name"], published["skops"]
    upload(settings, f"{name}/{version}/MLmodel", b"flavors:\n  sklearn:\n    pickled_model: x\n")
    assert "MLmodel does not match its signed sha256" in _refused(settings)


def test_f2_signature_replaced_by_the_attackers_own_key(
    blob_only: Callable[..., Any], published: dict[str, Any], tmp_path: Path
) -> None:
    from app.signing import bundle
    from app.signing.claims import ServingClaims
    from app.signing.keys import generate
    from app.signing.tree import digest_tree

    marker = tmp_path / "pwned"
    settings = blob_only()
    name, version = published["name"], published["skops"]
    evil = with_command(skops.io.dumps(published["pipeline"]), touch(marker))
    directory = model_directory(tmp_path / "evil", evil)
    attacker = FileKeySigner(generate(tmp_path / "attacker")[0])
    claims = ServingClaims(
        model_name=name, flavor="sklearn", format="skops", version=version, trusted_types=("os.system",)
    )
    forged = bundle.sign(digest_tree(directory), claims, name, attacker.public_key(), attacker.sign)
    for path in directory.iterdir():
        upload(settings, f"{name}/{version}/{path.name}", path.read_bytes())
    upload(settings, f"{name}/{version}/model.sig", forged)
    assert "signed by a key that is not configured" in _refused(settings)
    assert not marker.exists()


def test_tampered_signed_pickle_is_never_unpickled(
    blob_only: Callable[..., Any], published: dict[str, Any], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    settings = blob_only("pickle", allow_pickle=True)
    name, version = published["name"], published["pickle"]
    upload(settings, f"{name}/{version}/model.pkl", pickle.dumps(Marker(str(marker))))
    assert "model.pkl does not match its signed sha256" in _refused(settings)
    assert not marker.exists()


def test_signed_pickle_needs_allow_pickle(blob_only: Callable[..., Any], published: dict[str, Any]) -> None:
    assert "ALLOW_PICKLE is off" in _refused(blob_only("pickle"))
    loaded = load_chain(blob_only("pickle", allow_pickle=True))
    assert loaded.model is not None, loaded.reason
    assert (loaded.model.format, loaded.model.trust) == ("cloudpickle", "signed")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (None, "current.json does not exist"),
        (b"{not json", "is malformed (not JSON)"),
        (b'{"schema_version": 2, "model_name": "x"}', "is malformed"),
        (b"[]", "is malformed"),
    ],
)
def test_pointer_faults(settings_factory: Callable[..., Any], document: bytes | None, expected: str) -> None:
    name = f"trust-pointer-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(model_name=name, use_mlflow_registry=False)
    if document is not None:
        upload(settings, fetch_blob.pointer_path(name), document)
    assert expected in _refused(settings)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("model_name", "another-model", "names another model"),
        ("version", "../other", "is malformed (version)"),
        ("version", "..", "is malformed (version)"),
    ],
)
def test_pointer_cannot_leave_its_model_folder(
    blob_only: Callable[..., Any], published: dict[str, Any], field: str, value: str, expected: str
) -> None:
    settings = blob_only()
    name = published["name"]
    pointer = json.loads(download(settings, fetch_blob.pointer_path(name)))
    pointer[field] = value
    upload(settings, fetch_blob.pointer_path(name), json.dumps(pointer).encode())
    assert expected in _refused(settings)


def test_registry_outage_serves_the_signed_fallback_through_the_shim(
    shim_factory: Callable[..., Any],
    settings_factory: Callable[..., Any],
    blob_only: Callable[..., Any],
    published: dict[str, Any],
) -> None:
    from devstack.services import free_port

    blob_only()  # publish the champion's version
    settings = settings_factory(
        model_name=published["name"],
        registry_timeout_seconds=2.0,
        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}",
    )
    shim = shim_factory(settings)
    response = shim.post("/predict", json_body={"instances": [ROW]})
    assert response.status_code == 200, response
    assert response.json()["model"]["source"] == "blob_fallback"
    info = shim.get("/model/info").json()
    assert info["signed"] is True and info["source"] == "blob_fallback"
