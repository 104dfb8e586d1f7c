"""Acceptance 3: a pickle-based model (custom python_model, a scikit-learn-API LightGBM
model MLflow pickled) is refused unsigned even with ALLOW_PICKLE (and in migration mode),
and a signed one loads only with ALLOW_PICKLE. The pickles leave a marker when unpickled."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.lifecycle.signing import SigningRefused, sign_version
from app.lifecycle.training import load_data
from app.model_loading.chain import load_chain
from tests.flavors.cases import split_body
from tests.reliability.custom_code import Marker


def _log(settings: Any, kind: str, marker: Path) -> tuple[str, str]:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    name = f"flavor-pickle-{kind}-{uuid.uuid4().hex[:6]}"
    x, y = load_data("classification")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment("flavors")
    # No input example and no requirement inference: MLflow would unpickle the model to
    # check them, and this test needs to know who unpickled it.
    common = {"name": "model", "registered_model_name": name, "pip_requirements": []}
    with mlflow.start_run():
        if kind == "python_model":
            from tests.flavors.pickled import MarkedModel

            info = mlflow.pyfunc.log_model(
                python_model=MarkedModel(str(marker)), signature=infer_signature(x, x.sum(axis=1)), **common
            )
        else:
            import lightgbm
            import mlflow.lightgbm

            model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(x, y)
            signature = infer_signature(x, model.predict(x.head(5)))
            model.marker = Marker(str(marker))
            info = mlflow.lightgbm.log_model(
                model, serialization_format="cloudpickle", signature=signature, **common
            )
    version = str(info.registered_model_version)
    MlflowClient(settings.mlflow_tracking_uri).set_registered_model_alias(name, "champion", version)
    assert not marker.exists(), "logging unpickled the model"
    return name, version


@pytest.mark.parametrize("kind", ["python_model", "lgbm_cloudpickle"])
def test_pickle_needs_a_signature_and_allow_pickle(
    kind: str, settings_factory: Callable[..., Any], shim_factory: Callable[..., Any], tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    name, version = _log(settings_factory(), kind, marker)

    def chain(**overrides: Any) -> Any:
        return load_chain(settings_factory(model_name=name, fallback_enabled=False, **overrides))

    unsigned = chain(allow_pickle=True)
    assert unsigned.model is None and "is not signed" in unsigned.reason
    migration = chain(allow_pickle=True, require_signed_models=False)
    assert migration.model is None
    assert "an unsigned pickle is never loaded" in migration.reason
    assert not marker.exists()

    with pytest.raises(SigningRefused, match="--pickle"):
        sign_version(settings_factory(), name, version)
    result = sign_version(settings_factory(), name, version, allow_pickle_format=True)
    assert result.claims.format == "cloudpickle"
    assert result.claims.flavor == ("python_function" if kind == "python_model" else "lightgbm")
    assert not marker.exists()

    refused = chain()
    assert refused.model is None and "ALLOW_PICKLE is off" in refused.reason
    assert not marker.exists()

    shim = shim_factory(settings_factory(model_name=name, allow_pickle=True, fallback_enabled=False))
    x, _ = load_data("classification")
    response = shim.post("/invocations", json_body=split_body(x.head(4)))
    assert response.status_code == 200, response
    assert marker.exists()  # signed and allowed: the operator vouched for this pickle
    info = shim.get("/model/info").json()
    assert (info["deserializer"], info["trust"], info["format"]) == ("pickle", "signed", "cloudpickle")
    if kind == "python_model":
        # the model returns a Series, which MLflow's scoring server renders as one-key records
        rows = response.json()["predictions"]
        assert [list(row) for row in rows] == [["0"]] * 4
        assert [row["0"] for row in rows] == pytest.approx(x.head(4).sum(axis=1).tolist())
    else:
        assert set(response.json()["predictions"]) <= {0, 1}
