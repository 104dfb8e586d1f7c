"""The signing commands as an operator runs them, and the standard tool on their output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import skops.io

from app.cli import main
from tests.support.models import fitted_ridge
from tests.trust.attacks import model_directory, register_directory

MODEL_SIGNING = Path(sys.executable).with_name("model_signing")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    capsys.readouterr()  # drop what earlier steps printed
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        return code, json.loads(captured.out), captured.err
    except ValueError:
        return code, captured.out, captured.err


def test_keygen_sign_verify_export_and_the_standard_tool(
    settings_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"cli-sign-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(model_name=name)
    version = register_directory(
        settings, name, model_directory(tmp_path / "m", skops.io.dumps(fitted_ridge()))
    )
    code, keys, _ = _run(capsys, "keygen", "--out", str(tmp_path / "keys"))
    assert code == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("MODEL_NAME", name)
    monkeypatch.setenv("MODEL_SIGNING_KEY", keys["private_key"])
    monkeypatch.setenv("MODEL_SIGNING_PUBLIC_KEYS", keys["public_key"])
    assert oct(Path(keys["private_key"]).stat().st_mode)[-3:] == "600"

    code, _, err = _run(capsys, "verify", "--version", version)
    assert code == 1 and "is not signed" in err

    code, signed, _ = _run(capsys, "sign", "--version", version)
    assert code == 0
    assert sorted(signed["files"]) == ["MLmodel", "model.skops"]
    assert (signed["flavor"], signed["format"]) == ("sklearn", "skops")

    out = tmp_path / "export"
    code, report, _ = _run(capsys, "verify", "--version", version, "--export", str(out))
    assert code == 0 and report["verified"] and report["key_id"] == signed["key_id"]
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    standard = subprocess.run(
        [
            str(MODEL_SIGNING),
            "verify",
            "key",
            "--signature",
            str(out / "model" / "model.sig"),
            "--public_key",
            str(out / "public.pem"),
            str(out / "model"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert standard.returncode == 0, standard.stdout + standard.stderr
    assert (out / "public.pem").read_bytes() == Path(keys["public_key"]).read_bytes()

    code, _, err = _run(capsys, "sign", "--model-name", name)
    assert code == 2 and "--version" in err
