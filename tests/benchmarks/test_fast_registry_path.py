"""The REST fast path loads the same model as the mlflow-library path, and steps aside."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.model_loading import mlflow_rest, registry
from tests.support.models import rows


def _library_path(settings: Any, ref: registry.ModelRef, monkeypatch: Any) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(mlflow_rest, "try_resolve", lambda *_: None)
        patch.setattr(mlflow_rest, "try_load", lambda *_: None)
        return registry.load_resolved(settings, registry.resolve(settings, ref))


def test_fast_path_equals_library_path(champion: dict[str, Any], monkeypatch: Any) -> None:
    import pandas as pd

    settings = champion["settings"]
    ref = registry.ModelRef("alias", champion["name"], "champion")
    resolved = mlflow_rest.try_resolve(settings, ref)
    assert resolved is not None and resolved.version == champion["version"]
    fast = mlflow_rest.try_load(settings, resolved)
    assert fast is not None
    slow = _library_path(settings, ref, monkeypatch)
    fast_info, slow_info = fast.info(), slow.info()
    fast_info.pop("loaded_at"), slow_info.pop("loaded_at")
    assert fast_info == slow_info
    assert fast.schema == slow.schema
    frame = pd.DataFrame(rows(20))
    np.testing.assert_array_equal(fast.predict(frame), slow.predict(frame))


def test_fast_path_loads_without_the_resolution_tags(champion: dict[str, Any]) -> None:
    """Loading reuses the version tags read while resolving (one round trip fewer); given
    a reference resolved elsewhere, with no tags, it reads them itself: same trust, same model."""
    import dataclasses

    settings = champion["settings"]
    resolved = mlflow_rest.try_resolve(settings, registry.ModelRef("alias", champion["name"],
                                                                   "champion"))
    assert resolved is not None and resolved.tags is not None
    assert registry.TRUSTED_TYPES_TAG in resolved.tags
    with_tags = mlflow_rest.try_load(settings, resolved)
    without = mlflow_rest.try_load(settings, dataclasses.replace(resolved, tags=None))
    assert with_tags is not None and without is not None
    assert with_tags.sha256 == without.sha256 and with_tags.metrics == without.metrics
    assert with_tags.metrics  # the run's metrics arrive although fetched alongside


def test_fast_path_steps_aside(champion: dict[str, Any], settings_factory: Any) -> None:
    settings = champion["settings"]
    stage = registry.ModelRef("stage", champion["name"], "Production")
    assert mlflow_rest.try_resolve(settings, stage) is None  # not handled: mlflow resolves it
    missing = registry.ModelRef("alias", champion["name"], "no-such-alias")
    assert mlflow_rest.try_resolve(settings, missing) is None  # HTTP 404: mlflow's own error
    sqlite = settings_factory(mlflow_tracking_uri="sqlite:///unused.db")
    alias = registry.ModelRef("alias", champion["name"], "champion")
    assert mlflow_rest.try_resolve(sqlite, alias) is None


def test_dead_registry_is_unreachable(settings_factory: Any) -> None:
    from devstack.services import free_port

    settings = settings_factory(mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}")
    try:
        mlflow_rest.try_resolve(settings, registry.ModelRef("alias", "m", "champion"))
    except ConnectionError as exc:
        assert registry.is_unreachable(exc)
    else:
        raise AssertionError("a dead registry must raise")
