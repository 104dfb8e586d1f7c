"""Acceptance 2: with the registry down each flavor serves from the blob fallback (its
native files plus the signature, published by the same publish-fallback), and a native
model file replaced in the container is refused before any library parses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.lifecycle.fallback_publisher import publish_version
from app.model_loading.chain import load_chain
from app.storage import container
from tests.flavors.cases import CASES, NATIVE, Logged, log_case, mlflow_predictions, split_body

FALLBACK_CASES = [*NATIVE, "lgb-classifier-skops"]


@pytest.fixture(scope="module", params=FALLBACK_CASES)
def published(request: pytest.FixtureRequest, settings_factory: Callable[..., Any]) -> Logged:
    settings = settings_factory()
    logged = log_case(settings, CASES[request.param])
    publish_version(settings.model_copy(update={"model_name": logged.name}), logged.name, logged.version)
    return logged


def _registry_down(settings_factory: Callable[..., Any], logged: Logged) -> Any:
    from devstack.services import free_port

    return settings_factory(
        model_name=logged.name,
        registry_timeout_seconds=2.0,
        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}",
    )


def test_registry_down_serves_the_fallback(
    published: Logged, settings_factory: Callable[..., Any], shim_factory: Callable[..., Any]
) -> None:
    expected = mlflow_predictions(settings_factory(), published, published.frame)
    settings = _registry_down(settings_factory, published)
    shim = shim_factory(settings)
    response = shim.post("/invocations", json_body=split_body(published.frame))
    assert response.status_code == 200, response
    assert response.json() == {"predictions": expected}
    assert response.headers["x-model-source"] == "blob_fallback"
    info = shim.get("/model/info").json()
    assert (info["source"], info["version"], info["flavor"], info["trust"]) == (
        "blob_fallback",
        published.version,
        published.case.flavor,
        "signed",
    )
    assert info["load_attempts"][0]["outcome"] == "failed"


def test_fallback_holds_every_signed_file(published: Logged, settings_factory: Callable[..., Any]) -> None:
    from app.model_loading import loader, trust
    from app.model_loading.refs import ModelRef

    settings = settings_factory(model_name=published.name)
    manifest = trust.verify(
        settings, loader.resolve(settings, ModelRef("version", published.name, published.version))
    )
    assert manifest is not None
    blobs = {
        b.name
        for b in container(settings, settings.fallback_container).list_blobs(
            name_starts_with=f"{published.name}/{published.version}/"
        )
    }
    prefix = f"{published.name}/{published.version}/"
    assert {b.removeprefix(prefix) for b in blobs} == {*manifest.files, "model.sig"}


def test_replaced_native_file_is_refused(published: Logged, settings_factory: Callable[..., Any]) -> None:
    """The container writer swaps in a valid model of their own (same flavor, same name)."""
    from app.model_loading import flavors, mlmodel
    from app.model_loading.fetch_blob import download

    settings = settings_factory(model_name=published.name, use_mlflow_registry=False)
    prefix = f"{published.name}/{published.version}"
    meta = mlmodel.parse(download(settings, f"{prefix}/MLmodel", 1 << 20) or b"")
    model_file = flavors.describe(meta).model_file
    client = container(settings, settings.fallback_container)
    genuine = download(settings, f"{prefix}/{model_file}", 1 << 30)
    try:
        client.upload_blob(f"{prefix}/{model_file}", _attackers_model(published), overwrite=True)
        result = load_chain(settings)
        assert result.model is None, "the replaced model file was loaded"
        assert f"{model_file} does not match its signed sha256" in result.reason
        assert result.attempts[-1].source == "blob_fallback"
    finally:
        client.upload_blob(f"{prefix}/{model_file}", genuine, overwrite=True)
    assert load_chain(settings).model is not None  # the genuine copy still loads


def _attackers_model(logged: Logged) -> bytes:
    """A valid model file of the same flavor that predicts something else."""
    import numpy as np
    import pandas as pd

    frame = logged.frame.head(10)
    target = pd.Series(np.arange(10) % 2)
    flavor = logged.case.flavor
    if flavor == "xgboost":
        import xgboost

        booster = xgboost.train(
            {"objective": "reg:squarederror"}, xgboost.DMatrix(frame, label=target * 1e6), num_boost_round=2
        )
        return bytes(booster.save_raw("ubj"))
    if flavor == "lightgbm":
        import lightgbm

        if logged.case.format == "skops":
            import skops.io

            return skops.io.dumps(
                lightgbm.LGBMClassifier(n_estimators=2, min_child_samples=1, verbose=-1).fit(frame, target)
            )
        booster = lightgbm.train(
            {"objective": "regression", "verbose": -1, "min_data_in_leaf": 1},
            lightgbm.Dataset(frame, label=target * 1e6),
            num_boost_round=2,
        )
        return booster.model_to_string().encode()
    from sklearn.linear_model import LinearRegression

    from examples.onnx_model import to_onnx

    return to_onnx(LinearRegression().fit(frame, target * 1e6), frame).SerializeToString()
