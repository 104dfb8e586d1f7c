"""/metrics through the shim shows real values after real traffic."""

from __future__ import annotations

import re
from typing import Any

from tests.support.models import ROW


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


def test_metrics_after_traffic(shim_factory: Any, settings_factory: Any, champion: dict[str, Any]) -> None:
    shim = shim_factory(settings_factory())
    for _ in range(3):
        assert shim.post("/predict", json_body={"instances": [ROW, ROW]}).status_code == 200
    assert shim.post("/predict", json_body={"instances": []}).status_code == 400
    assert shim.post("/model/reload").status_code == 200
    response = shim.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.body.decode()
    assert _value(text, "http_requests_total", route="/predict", status="200") == 3
    assert _value(text, "http_requests_total", route="/predict", status="400") == 1
    assert _value(text, "http_request_duration_seconds_count", route="/predict", status="200") == 3
    assert _value(text, "predictions_total", version=champion["version"], source="registry") == 6
    assert _value(text, "model_info", model=champion["name"], version=champion["version"]) == 1
    assert _value(text, "registry_reachable") == 1
    assert _value(text, "model_loads_total") == 2  # cold start + reload
    assert _value(text, "model_swaps_total") == 2
    assert _value(text, "model_fallback_loads_total") == 0
    assert not re.search(r"_created\{", text)


def test_metrics_count_fallback_and_unreachable_registry(
    shim_factory: Any, settings_factory: Any, champion: dict[str, Any]
) -> None:
    from devstack.services import free_port

    shim = shim_factory(
        settings_factory(mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}", registry_timeout_seconds=1.0)
    )
    assert shim.post("/predict", json_body={"instances": [ROW]}).status_code == 200
    text = shim.get("/metrics").body.decode()
    assert _value(text, "model_fallback_loads_total") == 1
    assert _value(text, "registry_reachable") == 0
    assert _value(text, "model_info", source="blob_fallback") == 1


def test_json_access_log_carries_request_model_and_invocation(
    shim_factory: Any, settings_factory: Any, champion: dict[str, Any], caplog: Any
) -> None:
    import json
    import logging

    from app.logging_setup import JsonFormatter

    shim = shim_factory(settings_factory())
    with caplog.at_level(logging.INFO, logger="app.access"):
        response = shim.post("/predict", json_body={"instances": [ROW]}, headers={"x-request-id": "req-123"})
    assert response.status_code == 200
    records = [r for r in caplog.records if r.name == "app.access" and r.route == "/predict"]
    assert records, "no access log for /predict"
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["status"] == 200 and line["latency_ms"] > 0
    assert line["model_version"] == champion["version"]
    assert line["model_source"] == "registry"
    assert line["request_id"] == "req-123"
    assert len(line["invocation_id"]) == 32  # the shim's azure_functions.invocation_id
