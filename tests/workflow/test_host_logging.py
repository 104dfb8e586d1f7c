"""Logs reach the Functions host once per event, at the record's own level; locally, JSON lines.

The Python worker (3.11, ``azure_functions_worker`` 4.x) attaches its handler to the root
logger when its gRPC channel is up, before it imports ``function_app.py``, and sends every
record that handler receives to the host as an ``RpcLog``; the host records the worker's
stderr as well. The worker itself is not on PyPI (it ships inside the Functions host), so
``WORKER`` below reproduces what it installs: ``Dispatcher.__enter__`` sets the root level to
INFO and adds ``AsyncLoggingHandler``, whose ``emit`` formats the record with the default
formatter and whose ``Dispatcher.on_logging`` maps ``levelno`` to an ``RpcLog`` level. The app
runs for real in a subprocess: real settings against the session's MLflow and Azurite, the
model preloaded on import as under the host, requests through the registered function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

WORKER = '''
import logging

RPC_LOGS = []  # what the host received over gRPC
_LEVELS = [(logging.CRITICAL, "Critical"), (logging.ERROR, "Error"), (logging.WARNING, "Warning"),
           (logging.INFO, "Information"), (logging.DEBUG, "Debug")]


class AsyncLoggingHandler(logging.Handler):
    def emit(self, record):
        message = self.format(record)
        level = next((name for levelno, name in _LEVELS if record.levelno >= levelno), "None")
        RPC_LOGS.append({"level": level, "category": record.name, "message": message})


def enter():
    """What Dispatcher.__enter__ does to logging once the gRPC channel is up."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(AsyncLoggingHandler())
'''

# Imports the function app (as the worker does), sends two requests through the registered
# function, logs a warning and an error with a traceback from app code, prints what the host
# received over gRPC as one JSON line on stdout.
SCRIPT = r"""
import asyncio, json, logging, os, sys
under_host = os.environ.get("FUNCTIONS_WORKER_RUNTIME") == "python"
if under_host:
    from azure_functions_worker import dispatcher
    dispatcher.enter()

import azure.functions as func
import function_app

function = function_app.app.get_functions()[0]
handler = function.get_user_function()

class Context:
    def __init__(self, n):
        self.invocation_id = f"invocation-{n}"
    function_name = function.get_function_name()
    function_directory = os.getcwd()
    trace_context = retry_context = thread_local_storage = None

async def main():
    statuses = []
    for n, path in enumerate(["/health/ready", "/model/info"]):
        request = func.HttpRequest("GET", f"http://localhost{path}", headers={}, body=b"",
                                   route_params={"route": path.lstrip("/")})
        statuses.append((await handler(request, Context(n))).status_code)
    return statuses

statuses = asyncio.run(main())
log = logging.getLogger("app.probe")
log.warning("probe warning")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("probe failure")
rpc = dispatcher.RPC_LOGS if under_host else []
print("RESULT " + json.dumps({"statuses": statuses, "rpc": rpc}))
"""


def _run(tmp_path: Path, champion: dict[str, Any], *, under_host: bool) -> tuple[dict[str, Any], list[str]]:
    worker = tmp_path / "worker" / "azure_functions_worker"
    worker.mkdir(parents=True)
    (worker / "__init__.py").write_text("")
    (worker / "dispatcher.py").write_text(WORKER)
    settings = champion["settings"]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "MODEL_", "FUNCTIONS_", "AzureWebJobs"))
    }
    env.update(
        {
            "PYTHONPATH": f"{ROOT}{os.pathsep}{worker.parent}",
            "LOCAL_SETTINGS_FILE": "",
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "MODEL_STORAGE_CONNECTION_STRING": settings.storage_connection_string.get_secret_value(),
            "MODEL_NAME": champion["name"],
            "MODEL_REFRESH_SECONDS": "0",
            "MODEL_SIGNING_PUBLIC_KEYS": settings.model_signing_public_keys,
            "LOG_LEVEL": "INFO",
        }
    )
    if under_host:
        env["FUNCTIONS_WORKER_RUNTIME"] = "python"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["statuses"] == [200, 200], proc.stderr[-3000:]
    return result, proc.stderr.splitlines()


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "logger" in record:
            records.append(record)
    return records


def test_under_the_worker_each_app_event_reaches_the_host_once(
    champion: dict[str, Any],
    tmp_path: Path,
) -> None:
    result, stderr = _run(tmp_path, champion, under_host=True)
    app_rpc = [r for r in result["rpc"] if r["category"].startswith("app")]

    # Nothing of the app's on stderr: the host would record it a second time.
    assert [line for line in stderr if '"logger":"app' in line or "probe " in line] == []
    assert [r for r in _json_lines(stderr) if r["logger"].startswith("app")] == []

    # Every event once over the worker's channel, at its own level.
    access = [r for r in app_rpc if r["category"] == "app.access"]
    assert [(r["level"], r["message"]) for r in access] == [
        ("Information", "GET /health/ready 200"),
        ("Information", "GET /model/info 200"),
    ]
    loads = [r for r in app_rpc if r["message"].startswith("serving model")]
    assert len(loads) == 1 and loads[0]["level"] == "Information"
    assert f"version {champion['version']}" in loads[0]["message"]
    probes = [(r["level"], r["message"].splitlines()[0]) for r in app_rpc if r["category"] == "app.probe"]
    assert probes == [("Warning", "probe warning"), ("Error", "probe failure")]
    failure = next(r for r in app_rpc if r["message"].startswith("probe failure"))
    assert failure["message"].count("ZeroDivisionError") == 1  # the traceback, once
    messages = [r["message"] for r in app_rpc]
    assert len(messages) == len(set(messages)), "an event reached the host twice"


def test_locally_each_event_is_one_json_line(champion: dict[str, Any], tmp_path: Path) -> None:
    result, stderr = _run(tmp_path, champion, under_host=False)
    assert result["rpc"] == []
    records = [r for r in _json_lines(stderr) if r["logger"].startswith("app")]
    assert [r["message"] for r in records if r["logger"] == "app.access"] == [
        "GET /health/ready 200",
        "GET /model/info 200",
    ]
    assert [(r["level"], r["message"]) for r in records if r["logger"] == "app.probe"] == [
        ("WARNING", "probe warning"),
        ("ERROR", "probe failure"),
    ]
    assert "ZeroDivisionError" in next(r for r in records if r["message"] == "probe failure")["exception"]
    # Every line of the app's is JSON: no plain-text copy of any event.
    plain = [line for line in stderr if "probe" in line and not line.startswith("{")]
    assert plain == []
