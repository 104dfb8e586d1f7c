"""`python -m deploy build-zip --flavors`: which model flavors' libraries a zip ships."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from deploy import flavors
from deploy.__main__ import main
from deploy.build_zip import ROOT, build_zip, summary

LOCK = """\
# hash-locked, as pip-compile --generate-hashes writes it
numpy==2.4.6 \\
    --hash=sha256:aa \\
    --hash=sha256:bb
    # via onnxruntime, xgboost-cpu
onnxruntime==1.32.0 \\
    --hash=sha256:cc
FlatBuffers==25.2.10 ; python_version >= "3.8" \\
    --hash=sha256:dd
xgboost_cpu==3.2.0 --hash=sha256:ee
lightgbm==4.7.0
scikit-learn==1.9.1
"""


def _requirement_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        match = flavors._NAME.match(line)
        if match and not line.startswith((" ", "#", "-")):
            names.add(flavors.normalize(match.group(1)))
    return names


def test_parse_defaults_to_all_and_always_keeps_sklearn() -> None:
    assert flavors.parse(None) == flavors.parse("all") == ("sklearn", "xgboost", "lightgbm", "onnx")
    assert flavors.parse("onnx") == ("sklearn", "onnx")
    assert flavors.parse(" XGBoost , lightgbm ") == ("sklearn", "xgboost", "lightgbm")
    with pytest.raises(ValueError, match=r"unknown flavor.*pytorch"):
        flavors.parse("xgboost,pytorch")


def test_filter_keeps_everything_when_all_ship() -> None:
    text = (ROOT / "requirements.txt").read_text()
    assert flavors.filter_requirements(text, flavors.FLAVORS) == text
    assert flavors.filter_requirements(LOCK, flavors.FLAVORS) == LOCK


def test_filter_drops_only_what_the_left_out_flavors_need() -> None:
    kept = flavors.filter_requirements(LOCK, flavors.parse("xgboost"))
    assert _requirement_names(kept) == {"numpy", "xgboost-cpu", "scikit-learn"}
    assert "--hash=sha256:cc" not in kept and "--hash=sha256:dd" not in kept  # with the package
    assert "--hash=sha256:bb" in kept and "# via onnxruntime" in kept

    project = flavors.filter_requirements((ROOT / "requirements.txt").read_text(), flavors.parse("sklearn"))
    names = _requirement_names(project)
    assert not names & {"xgboost-cpu", "lightgbm", "onnxruntime"}
    assert {"scikit-learn", "skops", "mlflow-skinny", "fastapi"} <= names


def test_code_only_build_ships_the_filtered_requirements(tmp_path: Path) -> None:
    result = build_zip(tmp_path / "f.zip", with_deps=False, flavors=["onnx"])
    assert result.flavors == ("sklearn", "onnx")
    with zipfile.ZipFile(result.path) as archive:
        shipped = archive.read("requirements.txt").decode()
    assert "onnxruntime" in _requirement_names(shipped)
    assert not _requirement_names(shipped) & {"xgboost-cpu", "lightgbm"}
    assert "model flavors: sklearn, onnx" in summary(result)


def test_cli_rejects_an_unknown_flavor(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["build-zip", "--no-deps", "--flavors", "tensorflow"])
    assert exit_info.value.code == 2
    assert "unknown flavor(s) tensorflow" in capsys.readouterr().err
