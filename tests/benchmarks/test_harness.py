"""The benchmark harness on a tiny setting: statistics, targets, and the in-process paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import runner, stats


def test_percentile_matches_numpy() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0]
    for q in (0, 50, 90, 99, 100):
        assert stats.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_targets_and_table() -> None:
    results: dict[str, Any] = {
        "cold_start_s": {"project": 2.0, "mlflow_serve": 10.0, "floor": 1.5},
        "latency_1row_p50_ms": {"project_http": 2.0, "mlflow_serve": 8.0},
        "latency_1row_p99_ms": {},
        "batch_10k_rows_per_s": {"project_http": 500_000.0, "mlflow_serve": 100_000.0},
        "concurrent_32": {
            "project_http": {"rps": 400.0, "errors": 0},
            "mlflow_serve": {"rps": 150.0, "errors": 0},
        },
        "rss_mb": {"project": 300.0, "mlflow_serve": 290.0},
    }
    rows = {row["target"]: row for row in stats.evaluate_targets(results)}
    assert rows["cold start project / mlflow_serve"]["holds"] is True
    assert rows["cold start project / floor"]["ratio"] == pytest.approx(1.333, abs=1e-3)
    assert rows["RSS project / mlflow_serve"]["holds"] is False
    results["concurrent_32"]["project_http"]["errors"] = 1
    assert stats.TARGETS[4].holds(results) is False
    table = stats.render_table(results)
    assert "| cold start (s) |" in table and "NO" in table


def test_tiny_run_project_paths_equal_raw_predict(champion: dict[str, Any], tmp_path: Path) -> None:
    """project_shim (the registered function) predicts what the raw model does, 1 and 10k rows."""
    import skops.io

    from benchmarks import stack

    settings = champion["settings"]
    st = stack.Stack(
        tmp_path,
        None,
        None,
        version=champion["version"],  # type: ignore[arg-type]
        name=champion["name"],
        base_settings=settings,
    )
    model_file = stack.download_model_file(st, tmp_path / "model")
    run = runner.Run(runner.MODES["tiny"], tmp_path, log=lambda _: None)
    run.results["meta"] = {}
    run.raw_predict(skops.io.loads(model_file.read_bytes(), trusted=None))
    run.project_shim(st)
    matches = run.results["predictions_match"]
    assert matches["project_shim"] == {
        "match": True,
        "max_abs_diff": matches["project_shim"]["max_abs_diff"],
        "batch_checked": True,
    }
    assert matches["project_shim"]["max_abs_diff"] <= runner.TOLERANCE
    assert run.results["meta"]["project_model_source"] == "registry"
    assert run.results["latency_1row_p50_ms"]["project_shim"] > 0
    assert run.results["batch_10k_rows_per_s"]["raw_predict"] > 0
    logging = run.results["prediction_logging"]
    assert logging["p50_on_ms"] > 0 and logging["p50_off_ms"] > 0 and logging["ratio"] > 0
