"""drift-report: finds a deliberate shift in logged predictions, stays quiet on unshifted data."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.cli import main
from app.lifecycle.training import FEATURES, load_data
from app.observability.drift import bin_fractions, psi


def _log_predictions(shim_factory: Callable[..., Any], settings: Any, frame: Any) -> None:
    shim = shim_factory(settings)
    data = frame[FEATURES].to_numpy()
    for chunk in np.array_split(data, 20):
        body = {"dataframe_split": {"columns": FEATURES, "data": chunk.tolist()}}
        assert shim.post("/predict", json_body=body).status_code == 200
    assert shim.fastapi_app.state.services.prediction_logger.flush() > 0


def _report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Any, out: Path
) -> tuple[int, dict[str, Any]]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv(
        "MODEL_STORAGE_CONNECTION_STRING", settings.storage_connection_string.get_secret_value()
    )
    monkeypatch.setenv("MODEL_NAME", settings.model_name)
    monkeypatch.setenv("PREDICTION_LOG_CONTAINER", settings.prediction_log_container)
    code = main(["drift-report", "--since", "1h", "--json", "--fail-on-drift", "--out", str(out)])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("shifted", [False, True], ids=["unshifted", "bmi-shifted"])
def test_drift_report(
    shifted: bool,
    shim_factory: Callable[..., Any],
    settings_factory: Callable[..., Any],
    champion: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    settings = settings_factory(
        prediction_log_enabled=True, prediction_log_container=f"drift-{uuid.uuid4().hex[:12]}"
    )
    frame, _ = load_data()
    frame = frame.sample(frac=1.0, random_state=1)
    frame = frame.copy() if not shifted else frame.assign(bmi=frame["bmi"] + 0.06)  # ~1.3 sd
    _log_predictions(shim_factory, settings, frame)

    out = tmp_path / "drift.html"
    code, report = _report(monkeypatch, capsys, settings, out)
    by_feature = {f["feature"]: f for f in report["features"]}
    assert set(by_feature) == set(FEATURES)
    assert report["version"] == champion["version"] and report["rows"] == len(frame)
    assert all(f["rows"] == len(frame) for f in by_feature.values())
    html = out.read_text()
    assert "<svg" in html and "bmi" in html
    if shifted:
        assert code == 4
        assert report["drifted"] == ["bmi"]
        assert by_feature["bmi"]["psi"] > 0.25 and by_feature["bmi"]["ks_pvalue"] < 1e-6
        assert "drift" in html
    else:
        assert code == 0
        assert report["drifted"] == []
        assert max(f["psi"] for f in by_feature.values()) < 0.1
        assert main(["drift-report", "--since", "1h", "--out", ""]) == 0
        table = capsys.readouterr().out
        assert "drift in: none" in table and table.count("stable") == len(FEATURES)


def test_psi_is_zero_for_the_baseline_and_grows_with_shift() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=5000)
    edges = np.unique(np.quantile(base, np.linspace(0, 1, 11))).tolist()
    expected = bin_fractions(base, edges)
    assert psi(expected, expected) == pytest.approx(0.0)
    small = psi(expected, bin_fractions(rng.normal(0.1, 1, 5000), edges))
    large = psi(expected, bin_fractions(rng.normal(1.0, 1, 5000), edges))
    assert 0 < small < 0.1 < 0.25 < large
    # Values beyond the training range land in the open-ended outer bins.
    assert bin_fractions(np.array([-100.0, 100.0]), edges).tolist()[0] == 0.5
