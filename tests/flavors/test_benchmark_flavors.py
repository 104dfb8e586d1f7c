"""The benchmark's --flavor: each flavor's sample model is made and served, and the
project's in-process path and the cold-start floor predict what the raw model does."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import flavors, inproc, runner, stack


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm", "onnx"])
def test_tiny_run_of_a_flavor_matches_its_raw_model(
    flavor: str, settings_factory: Callable[..., Any], tmp_path: Path
) -> None:
    name = f"bench-{flavor}-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(model_name=name)
    st = stack.Stack(tmp_path, None, None, name=name, base_settings=settings)  # type: ignore[arg-type]
    stack.publish_model(st, flavor)
    model_file = stack.download_model_file(st, tmp_path / "model")
    run = runner.Run(runner.MODES["tiny"], tmp_path, log=lambda _: None, flavor=flavor)
    run.results["meta"] = {}
    raw = flavors.RawModel(flavor, model_file, list(st.trusted_types))
    run.raw_predict(raw)
    run.project_shim(st)
    match = run.results["predictions_match"]["project_shim"]
    assert match["match"] and match["batch_checked"], match
    assert run.results["batch_10k_rows_per_s"]["project_shim"] > 0

    from app.lifecycle.training import FEATURES

    row = dict(zip(FEATURES, run.one[0].tolist(), strict=True))
    _, floor_value = inproc.floor_cold_start(model_file, [], row, {}, flavor)
    assert floor_value == pytest.approx(float(run.expected_one[0]), abs=runner.TOLERANCE)


def test_values_reads_records_and_plain_predictions() -> None:
    assert flavors.values([{"variable": 1.5}, {"variable": 2.0}]).tolist() == [1.5, 2.0]
    assert np.array_equal(flavors.values([1, 2]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="unknown flavor"):
        flavors.check("pytorch")
