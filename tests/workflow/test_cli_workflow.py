"""The command line as a user runs it: `python -m app ...` in a subprocess, against real services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from devstack.services import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[2]


def _env(**values: str) -> dict[str, str]:
    """This process's environment without any app, MLflow or Functions setting, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "MODEL_", "FUNCTIONS_", "AzureWebJobs", "LOCAL_SETTINGS"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env


def _app(
    *args: str,
    cwd: Path = ROOT,
    env: dict[str, str],
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_compare_with_mlflow_down_fails_fast_naming_the_redacted_uri() -> None:
    port = free_port()  # nothing listens there
    env = _env(MLFLOW_TRACKING_URI=f"http://alice:s3cret-pw@127.0.0.1:{port}", LOCAL_SETTINGS_FILE="")
    started = time.monotonic()
    proc = _app("compare", env=env)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the MLflow tracking server at "), proc.stderr
    assert f"http://***@127.0.0.1:{port}" in lines[0]
    assert "s3cret" not in proc.stderr + proc.stdout and "alice" not in proc.stderr
    # Issue 16 acceptance 4 asks for "under 15 s"; MLflow's default retries took ~250 s.
    # A generous bound on a subprocess that also imports MLflow, not a micro-timing.
    assert elapsed < 15, elapsed


def test_cli_uses_the_stack_settings_file_and_the_environment_wins(
    champion: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings = champion["settings"]
    (tmp_path / "local.settings.json").write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {
                    "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
                    "MODEL_STORAGE_CONNECTION_STRING": settings.storage_connection_string.get_secret_value(),
                    "MODEL_NAME": champion["name"],
                    "MODEL_STAGE": "",
                },
            }
        )
    )
    proc = _app("compare", "--json", cwd=tmp_path, env=_env())
    assert proc.returncode == 0, proc.stderr
    rows = {row["version"]: row for row in json.loads(proc.stdout)}
    assert rows[champion["version"]]["aliases"] == ["champion"]
    assert rows[champion["version"]]["stage"] is None  # not the string "None"

    table = _app("compare", cwd=tmp_path, env=_env())
    assert table.returncode == 0, table.stderr
    header, *body = table.stdout.splitlines()
    assert header.split()[:3] == ["version", "aliases", "stage"]
    assert "None" not in table.stdout
    row = next(line.split() for line in body if line.split()[0] == champion["version"])
    assert row[1:3] == ["champion", "-"]

    # A variable set in the environment wins over the file.
    other = _app("compare", "--json", cwd=tmp_path, env=_env(MODEL_NAME="no-such-model-here"))
    assert other.returncode == 1 and "name=no-such-model-here not found" in other.stderr
    # LOCAL_SETTINGS_FILE="" turns the file off: the default tracking URI is not the test's.
    off = _app(
        "compare",
        "--json",
        "--model-name",
        champion["name"],
        cwd=tmp_path,
        env=_env(LOCAL_SETTINGS_FILE="", MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}"),
    )
    assert off.returncode == 1 and "did not answer" in off.stderr


def test_a_broken_settings_file_is_named_without_its_content(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text('{"Values": {"ADMIN_API_KEY": "hunter2", ')
    proc = _app("compare", cwd=tmp_path, env=_env())
    assert proc.returncode == 2
    assert "local.settings.json is not a readable local settings file" in proc.stderr
    assert "hunter2" not in proc.stderr and "Traceback" not in proc.stderr


def test_serve_logs_json_lines_only_and_the_first_load(champion: dict[str, Any], tmp_path: Path) -> None:
    settings = champion["settings"]
    port = free_port()
    env = _env(
        LOCAL_SETTINGS_FILE="",
        MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
        MODEL_STORAGE_CONNECTION_STRING=settings.storage_connection_string.get_secret_value(),
        MODEL_NAME=champion["name"],
        MODEL_REFRESH_SECONDS="0",
        MODEL_SIGNING_PUBLIC_KEYS=settings.model_signing_public_keys,
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--access-log"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/health/ready", 120, proc)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/model/info", timeout=10) as response:
                assert json.loads(response.read())["version"] == champion["version"]
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    not_json = [line for line in lines if not line.startswith("{")]
    assert not_json == []
    records = [json.loads(line) for line in lines]
    loggers = {record["logger"] for record in records}
    assert {"app.model_manager.holder", "app.access", "uvicorn.error", "uvicorn.access"} <= loggers
    loads = [r for r in records if r["message"].startswith("serving model")]
    assert len(loads) == 1 and loads[0]["level"] == "INFO"


def test_redaction_of_credentials_in_urls() -> None:
    from app.redact import redact as redact_urls

    text = (
        "at https://user:pa55@host.example/api?x=1&sig=abc123&code=k3y and "
        "http://127.0.0.1:5000/plain?token=t0k"
    )
    assert redact_urls(text) == (
        "at https://***@host.example/api?x=1&sig=***&code=*** and http://127.0.0.1:5000/plain?token=***"
    )
