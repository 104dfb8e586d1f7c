"""Both servers on the same registered models: `mlflow models serve` (a subprocess) and this
app (uvicorn on a thread), over real HTTP, against the session's MLflow tracking server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.parity.models import MIXED_NAME, ROW, register_mixed


@pytest.fixture(scope="session")
def mixed_model(settings_factory: Any) -> dict[str, str]:
    return register_mixed(settings_factory(model_name=MIXED_NAME))


@contextlib.contextmanager
def _mlflow_serve(model_uri: str, tracking_uri: str, probe: dict[str, Any], logs: Any) -> Iterator[str]:
    from benchmarks.servers import mlflow_server

    server = mlflow_server(model_uri, tracking_uri, logs)
    server.launch(json.dumps(probe).encode(), timeout=180)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


@contextlib.contextmanager
def _ours(settings: Any) -> Iterator[str]:
    from app.main import create_app
    from tests.support.http_server import serve

    app = create_app(settings)
    app.state.services.manager.start().result(60)
    assert app.state.services.manager.current is not None
    try:
        with serve(app) as url:
            yield url
    finally:
        app.state.services.manager.close()


@pytest.fixture(scope="session")
def numeric_servers(
    champion: dict[str, Any],
    settings_factory: Any,
    mlflow_server: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    from tests.support.models import ROW as NUMERIC_ROW

    uri = f"models:/{champion['name']}@champion"
    probe = {"dataframe_records": [NUMERIC_ROW]}
    logs = tmp_path_factory.mktemp("mlflow-serve-numeric")
    with (
        _mlflow_serve(uri, mlflow_server.url, probe, logs) as mlflow_url,
        _ours(settings_factory()) as ours_url,
    ):
        yield {"mlflow": mlflow_url, "ours": ours_url}


@pytest.fixture(scope="session")
def mixed_servers(
    mixed_model: dict[str, str],
    settings_factory: Any,
    mlflow_server: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    probe = {"dataframe_records": [ROW]}
    logs = tmp_path_factory.mktemp("mlflow-serve-mixed")
    with (
        _mlflow_serve(mixed_model["uri"], mlflow_server.url, probe, logs) as mlflow_url,
        _ours(settings_factory(model_name=MIXED_NAME)) as ours_url,
    ):
        yield {"mlflow": mlflow_url, "ours": ours_url}
