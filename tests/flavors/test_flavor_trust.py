"""What a registry writer can put in a native flavor's MLmodel or files, and what the
server does with it: nothing runs, nothing outside the model directory is read."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.lifecycle import signing
from app.model_loading.chain import load_chain
from tests.flavors.cases import CASES, log_case
from tests.trust.attacks import register_directory


def _download(settings: Any, name: str, version: str, target: Path) -> Path:
    return signing.download(settings, signing.version_location(settings, name, version), target)


def _alias(settings: Any, name: str, version: str) -> None:
    from mlflow import MlflowClient

    MlflowClient(settings.mlflow_tracking_uri).set_registered_model_alias(name, "champion", version)


def test_unsigned_native_model_loads_only_in_migration_mode(
    settings_factory: Callable[..., Any], shim_factory: Callable[..., Any]
) -> None:
    settings = settings_factory()
    logged = log_case(settings, CASES["lgb-booster-regression"], sign=False)
    strict = load_chain(settings_factory(model_name=logged.name, fallback_enabled=False))
    assert strict.model is None and "is not signed" in strict.reason
    migration = settings_factory(model_name=logged.name, fallback_enabled=False, require_signed_models=False)
    info = shim_factory(migration).get("/model/info").json()
    assert (info["trust"], info["flavor"], info["deserializer"]) == ("unsigned", "lightgbm", "native")


def test_xgboost_model_class_outside_the_list_is_never_constructed(
    settings_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's own xgboost loader instantiates whatever class MLmodel names; here a registry
    writer names one whose constructor writes a marker. Neither signing nor a migration-mode
    load constructs it."""
    marker = tmp_path / "constructed"
    monkeypatch.setenv("FLAVOR_TEST_MARKER", str(marker))
    settings = settings_factory()
    logged = log_case(settings, CASES["xgb-regressor"], sign=False, alias=None)
    directory = _download(settings, logged.name, logged.version, tmp_path / "dl")
    meta = yaml.safe_load((directory / "MLmodel").read_text())
    meta["flavors"]["xgboost"]["model_class"] = "tests.flavors.evil.Evil"
    (directory / "MLmodel").write_text(yaml.safe_dump(meta))
    name = f"flavor-evil-{uuid.uuid4().hex[:6]}"
    version = register_directory(settings, name, directory)
    _alias(settings, name, version)

    with pytest.raises(signing.SigningRefused, match=r"loads only xgboost\.core\.Booster"):
        signing.sign_version(settings, name, version)
    result = load_chain(
        settings_factory(model_name=name, fallback_enabled=False, require_signed_models=False)
    )
    assert result.model is None
    assert "names the XGBoost model class 'tests.flavors.evil.Evil'" in result.reason
    assert not marker.exists()


def test_onnx_external_data_outside_the_model_directory_is_never_read(
    settings_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """An ONNX graph whose weights point at a file outside its directory (absolute or ../):
    the server writes only the model's own files to a private directory and onnxruntime
    refuses the path, signed or not; the outside file's values never reach a prediction."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    outside = tmp_path / "outside.bin"
    np.full((1, 10), 7.0, dtype=np.float32).tofile(outside)
    settings = settings_factory()
    logged = log_case(settings, CASES["onnx-regression"], sign=False, alias=None)
    directory = _download(settings, logged.name, logged.version, tmp_path / "dl")
    weights = numpy_helper.from_array(np.zeros((1, 10), dtype=np.float32), "W")
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["input", "W"], ["sum"]),
            helper.make_node("ReduceSum", ["sum"], ["variable"], axes=[1], keepdims=1),
        ],
        "leak",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 10])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])

    def register_with_weights_at(location: str) -> str:
        tensor = model.graph.initializer[0]
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        del tensor.external_data[:]
        tensor.external_data.add(key="location", value=location)
        (directory / "model.onnx").write_bytes(model.SerializeToString())
        name = f"flavor-onnx-leak-{uuid.uuid4().hex[:6]}"
        _alias(settings, name, register_directory(settings, name, directory))
        return name

    # Control: the same graph with its weights file inside the directory loads and uses it.
    (directory / "weights.bin").write_bytes(outside.read_bytes())
    name = register_with_weights_at("weights.bin")
    signing.sign_version(settings, name, "1")
    inside = load_chain(settings_factory(model_name=name, fallback_enabled=False))
    assert inside.model is not None, inside.reason
    frame = logged.frame.head(2)
    assert [r["variable"] for r in inside.model.predict(frame)] == pytest.approx(
        (frame.sum(axis=1) + 70.0).tolist(), rel=1e-5
    )
    (directory / "weights.bin").unlink()

    for location in ("../../../../../../../../../../" + str(outside).lstrip("/"), str(outside)):
        name = register_with_weights_at(location)
        version = "1"
        migration = load_chain(
            settings_factory(model_name=name, fallback_enabled=False, require_signed_models=False)
        )
        assert migration.model is None
        assert "onnxruntime could not load model.onnx" in migration.reason
        signing.sign_version(settings, name, version)  # the operator signs it by mistake
        signed = load_chain(settings_factory(model_name=name, fallback_enabled=False))
        assert signed.model is None
        assert "onnxruntime could not load model.onnx" in signed.reason


def test_lightgbm_skops_signs_with_the_types_mlflow_trusts(settings_factory: Callable[..., Any]) -> None:
    """A scikit-learn-API LightGBM model in skops (MLflow's default) signs without --trust:
    the claims list exactly the LightGBM types MLflow itself trusts that the file needs."""
    settings = settings_factory()
    case = CASES["lgb-classifier-skops"]
    logged = log_case(settings, case, sign=False, alias=None)
    result = signing.sign_version(settings, logged.name, logged.version)
    assert (result.claims.flavor, result.claims.format) == ("lightgbm", "skops")
    assert set(result.claims.trusted_types) == {
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
    }
