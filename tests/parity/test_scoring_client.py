"""MLflow's own scoring client drives this app: ``wait_server_ready`` (polls /ping),
``invoke`` (a DataFrame as dataframe_split, with params) and ``get_version`` (/version)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

from app.model_loading import fetch_mlflow
from tests.parity.models import ROW
from tests.support.models import rows


def _client(url: str) -> ScoringServerClient:
    parts = urlsplit(url)
    return ScoringServerClient(parts.hostname, parts.port)


def _registered(uri: str) -> Any:
    with fetch_mlflow.mlflow_may_unpickle():  # this test made the model
        return mlflow.sklearn.load_model(uri)


def test_scoring_server_client_drives_the_numeric_model(
    numeric_servers: dict[str, str], champion: dict[str, Any]
) -> None:
    client = _client(numeric_servers["ours"])
    client.wait_server_ready(timeout=30)
    frame = pd.DataFrame(rows(20))
    result = client.invoke(frame).get_predictions()
    expected = _registered(f"models:/{champion['name']}/{champion['version']}").predict(frame)
    np.testing.assert_allclose(result.to_numpy()[:, 0], expected, rtol=1e-9)
    assert client.get_version() == mlflow.__version__
    mlflow_client = _client(numeric_servers["mlflow"])
    assert mlflow_client.get_version() == client.get_version()
    np.testing.assert_allclose(
        mlflow_client.invoke(frame).get_predictions().to_numpy(), result.to_numpy(), rtol=1e-9
    )


def test_scoring_server_client_sends_params(
    mixed_servers: dict[str, str], mixed_model: dict[str, str]
) -> None:
    client = _client(mixed_servers["ours"])
    client.wait_server_ready(timeout=30)
    frame = pd.DataFrame([ROW, {**ROW, "color": "blue", "count": 9}]).astype(
        {"small": "int32", "ratio": "float32", "when": "datetime64[ns]"}
    )
    result = client.invoke(frame, params={"threshold": 0.9, "tags": ["x"]}).get_predictions()
    expected = _registered(mixed_model["uri"]).predict(frame)
    np.testing.assert_allclose(result.to_numpy()[:, 0], expected, rtol=1e-9)
    with pytest.raises(Exception, match="error code 400"):
        client.invoke(frame, params={"threshold": "high"})
