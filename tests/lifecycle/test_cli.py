"""Acceptance: the lifecycle CLI end to end against the real MLflow server and Azurite."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app.cli import main
from app.lifecycle import promotion
from app.model_loading.fetch_blob import read_pointer

MODEL = "lifecycle-cli"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    out = capsys.readouterr().out
    lines = out.splitlines()
    starts = [i for i, line in enumerate(lines) if line in ("{", "[")]
    if not starts:
        return code, out
    return code, json.loads("\n".join(lines[starts[0] :]))


def test_train_gate_compare_promote_rollback_cleanup(
    settings_factory: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_factory(model_name=MODEL)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv(
        "MODEL_STORAGE_CONNECTION_STRING", settings.storage_connection_string.get_secret_value()
    )
    monkeypatch.setenv("MODEL_NAME", MODEL)
    monkeypatch.setenv("MODEL_SIGNING_KEY", settings.model_signing_key)
    monkeypatch.setenv("MODEL_SIGNING_PUBLIC_KEYS", settings.model_signing_public_keys)

    code, first = _run(capsys, "train", "--alpha", "1.0")
    assert code == 0
    code, second = _run(capsys, "train", "--alpha", "100")
    assert code == 0
    # Which alpha scores better depends on the pipeline; the gate splits them either way.
    better, worse = sorted([first, second], key=lambda r: r["metrics"]["r2"], reverse=True)
    r2_good, r2_bad = better["metrics"]["r2"], worse["metrics"]["r2"]
    assert r2_good > r2_bad
    gate = f"r2>={(r2_good + r2_bad) / 2:.6f}"
    v1, v2 = str(better["version"]), str(worse["version"])

    code, decision = _run(capsys, "promote", "--version", v1, "--min-metric", gate)
    assert code == 0 and decision["promoted"]
    code, decision = _run(capsys, "promote", "--version", v2, "--min-metric", gate)
    assert code == 3 and not decision["promoted"]
    assert promotion.alias_holder(settings, MODEL, "champion") == v1

    code, rows = _run(capsys, "compare", "--json")
    assert code == 0
    by_version = {row["version"]: row for row in rows}
    assert {v1, v2} <= set(by_version)
    assert by_version[v1]["aliases"] == ["champion"]
    assert by_version[v1]["metrics"]["r2"] == pytest.approx(r2_good)
    code, table = _run(capsys, "compare")
    assert code == 0 and "champion" in table

    code, decision = _run(capsys, "promote", "--version", v2)
    assert code == 0 and promotion.alias_holder(settings, MODEL, "champion") == v2
    code, decision = _run(capsys, "rollback")
    assert code == 0 and promotion.alias_holder(settings, MODEL, "champion") == v1
    fallback = str(read_pointer(settings, MODEL).version)

    code, report = _run(capsys, "cleanup", "--keep", "1")
    assert code == 0 and not report["applied"]
    code, report = _run(capsys, "cleanup", "--keep", "1", "--apply")
    assert code == 0
    assert v1 not in report["deleted"] and fallback not in report["deleted"]
    remaining = {row["version"] for row in _run(capsys, "compare", "--json")[1]}
    assert v1 in remaining and fallback in remaining
    assert remaining.isdisjoint(report["deleted"])
