"""Application Insights export: real telemetry envelopes reach the ingestion endpoint.

The app runs in a subprocess (OpenTelemetry providers are process-global) with a connection
string whose IngestionEndpoint is a local HTTP server that records what the Azure Monitor
exporter posts to ``/v2.1/track``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider
    from starlette.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.support.models import ROW

    app = create_app(Settings())
    assert app.state.services.telemetry is True
    with TestClient(app) as client:
        assert client.post("/predict", json={"instances": []}).status_code == 400
        for _ in range(5):
            response = client.post("/predict", json={"instances": [ROW, ROW]})
            assert response.status_code == 200, response.text
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(),
                     get_logger_provider()):
        assert provider.force_flush()
""")


class _Capture(BaseHTTPRequestHandler):
    envelopes: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        items = json.loads(body)
        self.envelopes.extend(items if isinstance(items, list) else [items])
        response = json.dumps(
            {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ingestion() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Capture.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", _Capture.envelopes
    server.shutdown()


def _app_env(endpoint: str, champion: dict[str, Any], mlflow_server: Any, tmp_path: Path) -> dict[str, str]:
    """The app subprocess's environment: telemetry to the local ingestion endpoint."""
    return {
        **os.environ,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": (
            f"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint={endpoint}"
        ),
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        # The distro samples 5 traces/s by default; keep every trace for an exact count.
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
        "TMPDIR": str(tmp_path),
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "MODEL_NAME": champion["name"],
        "MODEL_ALIAS": "champion",
        "MODEL_FALLBACK_ENABLED": "false",
        "MODEL_SIGNING_PUBLIC_KEYS": champion["settings"].model_signing_public_keys,
        "PYTHONPATH": str(ROOT),
    }


def test_requests_logs_and_metrics_reach_application_insights(
    ingestion: tuple[str, list[dict[str, Any]]],
    champion: dict[str, Any],
    mlflow_server: Any,
    tmp_path: Path,
) -> None:
    endpoint, envelopes = ingestion
    env = _app_env(endpoint, champion, mlflow_server, tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, timeout=180, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]

    kinds = {e["data"]["baseType"] for e in envelopes}
    assert {"RequestData", "MetricData"} <= kinds, kinds
    requests = [e["data"]["baseData"] for e in envelopes if e["data"]["baseType"] == "RequestData"]
    predict = [r for r in requests if "/predict" in r.get("name", "")]
    assert len(predict) == 6, [(r["name"], r["responseCode"]) for r in requests]
    assert sorted(r["responseCode"] for r in predict) == ["200"] * 5 + ["400"]
    metrics = {
        m["name"]: m
        for e in envelopes
        if e["data"]["baseType"] == "MetricData"
        for m in e["data"]["baseData"]["metrics"]
    }
    assert "predictions" in metrics
    prediction_points = [
        e["data"]["baseData"]
        for e in envelopes
        if e["data"]["baseType"] == "MetricData"
        and e["data"]["baseData"]["metrics"][0]["name"] == "predictions"
    ]
    assert sum(p["metrics"][0]["value"] for p in prediction_points) == 10
    assert prediction_points[0]["properties"]["version"] == champion["version"]
    assert "model_state" in metrics and "model_events" in metrics
    assert "MessageData" in kinds  # the app's own logs (logger "app") are exported too


SHIM_SCRIPT = textwrap.dedent("""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider

    from app.settings import Settings
    from tests.support.models import ROW
    from tests.support.shim import ShimClient

    shim = ShimClient(Settings())
    try:
        calls = [
            shim.get("/model/info?code=FUNCTIONKEY-abc123"),
            shim.get("/health?versions=2&Sig=SIGVALUE-77&x-functions-key=HDRKEY-55"),
            shim.post("/predict?co%64e=ENCODEDKEY-9f&debug=1", json_body={"instances": [ROW]}),
            shim.get("/model/info?access_token=TOKEN-31&password=PW-42"),
        ]
        assert [c.status_code for c in calls] == [200, 200, 200, 200], calls
    finally:
        shim.close()
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(),
                     get_logger_provider()):
        assert provider.force_flush()
""")
SECRETS = ("FUNCTIONKEY-abc123", "SIGVALUE-77", "HDRKEY-55", "ENCODEDKEY-9f", "TOKEN-31", "PW-42")


def test_function_keys_and_secret_parameters_never_reach_application_insights(
    ingestion: tuple[str, list[dict[str, Any]]],
    champion: dict[str, Any],
    mlflow_server: Any,
    tmp_path: Path,
) -> None:
    """Security review F6: ``?code=<function key>`` was exported verbatim as the request URL."""
    endpoint, envelopes = ingestion
    env = _app_env(endpoint, champion, mlflow_server, tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", SHIM_SCRIPT], cwd=ROOT, env=env, timeout=180, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]

    exported = json.dumps(envelopes)
    requests = {e["data"]["baseData"]["url"] for e in envelopes if e["data"]["baseType"] == "RequestData"}
    assert len(requests) == 4, requests  # the requests were exported...
    for secret in SECRETS:  # ...without any secret, anywhere in any envelope
        assert secret not in exported, secret
    assert any(url.endswith("/model/info?code=REDACTED") for url in requests), requests
    assert any("versions=2" in url and "Sig=REDACTED" in url for url in requests), requests
    assert any("debug=1" in url for url in requests), requests  # other parameters are kept


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h/p?code=K", "https://h/p?code=REDACTED"),
        ("https://h/p?versions=1&versions=2", "https://h/p?versions=1&versions=2"),
        ("https://h/p?CODE=K&a=1", "https://h/p?CODE=REDACTED&a=1"),
        ("https://h/p?co%64e=K", "https://h/p?co%64e=REDACTED"),
        ("https://u:pw@h:5000/mlflow?x=1", "https://REDACTED@h:5000/mlflow?x=1"),
        ("/hooks/mlflow?code=K", "/hooks/mlflow?code=REDACTED"),
        ("https://h/p?sv=2024&sig=S&se=t", "https://h/p?sv=2024&sig=REDACTED&se=t"),
        ("https://[::1/", "REDACTED"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    from app.observability.redaction import redact_url

    assert redact_url(url) == expected
