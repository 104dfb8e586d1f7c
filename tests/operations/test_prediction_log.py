"""Prediction logging: JSON Lines append blobs in Azurite, flushed by size and time, never in the way."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.lifecycle.training import FEATURES
from app.storage import container
from devstack.services import free_port
from tests.support.models import ROW, rows, split


def _records(settings: Any) -> list[dict[str, Any]]:
    client = container(settings, settings.prediction_log_container)
    if not client.exists():
        return []
    lines: list[dict[str, Any]] = []
    for blob in client.list_blobs():
        data = client.download_blob(blob.name).readall()
        assert data.endswith(b"\n"), "every block ends with a complete line"
        lines.extend(json.loads(line) for line in data.splitlines())
    return lines


def _wait_for(settings: Any, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    records = _records(settings)
    while len(records) < count and time.monotonic() < deadline:
        time.sleep(0.2)
        records = _records(settings)
    return records


def _logging_settings(settings_factory: Callable[..., Any], **overrides: Any) -> Any:
    values = {
        "prediction_log_enabled": True,
        "prediction_log_container": f"plog-{uuid.uuid4().hex[:12]}",
        "prediction_log_flush_seconds": 1.0,
        "prediction_log_max_records": 250,
        "instance_id": "test-instance",
    }
    return settings_factory(**(values | overrides))


def test_thousand_predictions_make_thousand_records(
    shim_factory: Callable[..., Any], settings_factory: Callable[..., Any], champion: dict[str, Any]
) -> None:
    settings = _logging_settings(settings_factory)
    shim = shim_factory(settings)
    samples = rows(3)

    def one(i: int) -> int:
        body = {"instances": [samples[i % 3]]} if i % 2 else {"dataframe_split": split(samples)}
        return shim.post("/predict", json_body=body).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(one, range(1000)))
    assert statuses == [200] * 1000

    records = _wait_for(settings, 1000)
    assert len(records) == 1000
    assert len({r["request_id"] for r in records}) == 1000
    blobs = [b.name for b in container(settings, settings.prediction_log_container).list_blobs()]
    assert len(blobs) >= 1 and all(b.endswith(".jsonl") and "test-instance-" in b for b in blobs)
    sample = records[0]
    assert sample["model"] == {"name": champion["name"], "version": champion["version"], "source": "registry"}
    assert sample["inputs"]["columns"] == FEATURES
    assert len(sample["inputs"]["data"]) == len(sample["outputs"]) == sample["rows"]
    assert sample["latency_ms"] >= 0 and sample["route"] == "/predict"
    assert sum(r["rows"] for r in records) == 500 * 1 + 500 * 3

    metrics = shim.get("/metrics").body.decode()
    assert 'prediction_log_records_total{outcome="written"} 1000.0' in metrics


def test_time_based_flush_and_large_batches(
    shim_factory: Callable[..., Any], settings_factory: Callable[..., Any], champion: dict[str, Any]
) -> None:
    settings = _logging_settings(
        settings_factory, prediction_log_max_records=100_000, prediction_log_flush_seconds=0.5
    )
    shim = shim_factory(settings)
    big = [list(ROW.values())] * 4500
    response = shim.post("/predict", json_body={"dataframe_split": {"columns": FEATURES, "data": big}})
    assert response.status_code == 200
    records = _wait_for(settings, 3)  # no size trigger: only the timer writes these
    assert [r["part"] for r in records] == [[1, 3], [2, 3], [3, 3]]
    assert sum(len(r["outputs"]) for r in records) == 4500
    assert len({r["request_id"] for r in records}) == 1


def test_sampling(
    shim_factory: Callable[..., Any], settings_factory: Callable[..., Any], champion: dict[str, Any]
) -> None:
    settings = _logging_settings(settings_factory, prediction_log_sample_rate=0.25)
    shim = shim_factory(settings)
    for _ in range(400):
        assert shim.post("/predict", json_body={"instances": [ROW]}).status_code == 200
    shim.fastapi_app.state.services.prediction_logger.flush()
    count = len(_records(settings))
    assert 50 <= count <= 150, count  # binomial(400, 0.25): mean 100, sd 8.7


def test_storage_failure_never_fails_a_prediction(
    shim_factory: Callable[..., Any], settings_factory: Callable[..., Any], champion: dict[str, Any]
) -> None:
    dead = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"
    )
    settings = _logging_settings(
        settings_factory,
        storage_connection_string=dead,
        prediction_log_max_records=10,
        registry_timeout_seconds=1.0,
    )
    shim = shim_factory(settings)
    for _ in range(30):
        response = shim.post("/predict", json_body={"instances": [ROW]})
        assert response.status_code == 200
    logger = shim.fastapi_app.state.services.prediction_logger
    assert logger.flush() == 0
    assert logger.flush() == 0  # the retried batch fails again and is dropped
    metrics = shim.get("/metrics").body.decode()
    dropped = [
        line
        for line in metrics.splitlines()
        if line.startswith('prediction_log_records_total{outcome="dropped"}')
    ]
    assert dropped and float(dropped[0].rsplit(" ", 1)[1]) >= 1


def test_buffer_is_capped_in_bytes_and_overflow_is_counted(
    shim_factory: Callable[..., Any],
    settings_factory: Callable[..., Any],
    champion: dict[str, Any],
    caplog: Any,
) -> None:
    """Records that do not fit PREDICTION_LOG_MAX_BUFFER_BYTES are dropped whole and counted;
    the held bytes never pass the limit, and what is kept is written complete."""
    settings = _logging_settings(
        settings_factory,
        prediction_log_max_buffer_bytes=256 * 1024,
        prediction_log_flush_seconds=3600,
        prediction_log_max_records=100_000,
    )
    shim = shim_factory(settings)
    logger = shim.fastapi_app.state.services.prediction_logger
    batch = {"dataframe_split": {"columns": FEATURES, "data": [list(ROW.values())] * 300}}
    held = []
    for _ in range(12):  # ~200 KiB each at the request-path estimate, ~60 KiB as JSON
        assert shim.post("/predict", json_body=batch).status_code == 200
        held.append(logger.buffered_bytes)
    assert max(held) <= settings.prediction_log_max_buffer_bytes
    logger.flush()  # an overflow also makes the writer write at once; this writes the rest
    assert logger.buffered_bytes == 0
    metrics = shim.get("/metrics").body.decode()
    overflow = [
        line
        for line in metrics.splitlines()
        if line.startswith('prediction_log_records_total{outcome="overflow"}')
    ]
    kept = {r["request_id"] for r in _records(settings)}
    assert overflow and float(overflow[0].rsplit(" ", 1)[1]) == 12 - len(kept) > 0
    assert all(r["rows"] == 300 == len(r["outputs"]) for r in _records(settings))
    assert "prediction log buffer full" in caplog.text
    assert "prediction_log_buffer_bytes 0.0" in metrics
