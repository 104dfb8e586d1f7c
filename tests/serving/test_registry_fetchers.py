"""The REST fetcher and the mlflow-library fetcher hand the one load path the same model;
the REST fetcher steps aside where it cannot serve, and never sends credentials elsewhere."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from app.model_loading import fetch_mlflow, loader
from app.model_loading.failures import is_unreachable
from app.model_loading.fetch_rest import RestReader, RestRegistry, Unsupported
from app.model_loading.refs import ModelRef
from app.model_loading.types import LoadError, UnreachableError
from devstack.services import free_port
from tests.support.models import rows


def test_rest_and_library_fetchers_load_the_same_model(
    champion: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    settings = champion["settings"]
    ref = ModelRef("alias", champion["name"], "champion")
    resolved = RestRegistry(settings).resolve(ref)
    assert resolved.version == champion["version"] and resolved.signature
    assert isinstance(RestRegistry(settings).reader(resolved), RestReader)
    fast = loader.load(settings, resolved)
    library_resolved = fetch_mlflow.resolve(settings, ref)
    assert library_resolved == resolved
    with monkeypatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")  # the REST fetcher steps aside
        with pytest.raises(Unsupported):
            RestRegistry(settings)
        slow = loader.load(settings, library_resolved)
    fast_info, slow_info = fast.info(), slow.info()
    fast_info.pop("loaded_at"), slow_info.pop("loaded_at")
    assert fast_info == slow_info
    assert fast_info["metrics"]  # the run's metrics arrive although fetched alongside
    assert fast.schema == slow.schema
    frame = pd.DataFrame(rows(20))
    np.testing.assert_array_equal(fast.predict(frame), slow.predict(frame))


def test_rest_fetcher_steps_aside(champion: dict[str, Any], settings_factory: Any) -> None:
    settings = champion["settings"]
    with pytest.raises(Unsupported):  # stages are resolved by mlflow
        RestRegistry(settings).resolve(ModelRef("stage", champion["name"], "Production"))
    with pytest.raises(Unsupported):  # HTTP 404: mlflow gives its own error
        RestRegistry(settings).resolve(ModelRef("alias", champion["name"], "no-such-alias"))
    with pytest.raises(Unsupported):
        RestRegistry(settings_factory(mlflow_tracking_uri="sqlite:///unused.db"))


def test_dead_registry_is_unreachable(settings_factory: Any) -> None:
    settings = settings_factory(mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UnreachableError) as raised:
        RestRegistry(settings).resolve(ModelRef("alias", "m", "champion"))
    assert is_unreachable(raised.value)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a redirect to ``target`` (when set), recording Authorization."""

    target: str | None = None
    seen: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.target:
            self.send_response(302)
            self.send_header("Location", self.target + self.path)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"model_version": {"version": "1", "tags": []}}')

    def log_message(self, *args: Any) -> None:
        return


def _serve(target: str | None) -> tuple[str, list[tuple[str, str | None]], Any]:
    seen: list[tuple[str, str | None]] = []
    handler = type("Handler", (_Recorder,), {"target": target, "seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", seen, server


@pytest.fixture
def redirecting() -> Iterator[dict[str, Any]]:
    third_party, stolen, other = _serve(None)
    tracking, seen, server = _serve(third_party)
    yield {"tracking": tracking, "tracking_seen": seen, "third_party_seen": stolen}
    server.shutdown()
    other.shutdown()


def test_f9_credentials_never_follow_a_redirect_to_another_host(
    redirecting: dict[str, Any], settings_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding F9: urllib copied Authorization to whatever host a redirect named."""
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-SECRET-123")
    settings = settings_factory(mlflow_tracking_uri=redirecting["tracking"])
    with pytest.raises(LoadError, match="redirected to another host"):
        RestRegistry(settings).resolve(ModelRef("alias", "m", "champion"))
    assert redirecting["tracking_seen"] and redirecting["tracking_seen"][0][1] == "Bearer tok-SECRET-123"
    assert redirecting["third_party_seen"] == []


@pytest.mark.parametrize("tail", ["/mlflow", "/mlflow?token=abcSECRET"])
def test_f8_credentials_in_the_tracking_uri_never_reach_messages(
    settings_factory: Any, shim_factory: Any, caplog: pytest.LogCaptureFixture, tail: str
) -> None:
    """Review finding F8: user:password (or a token) in MLFLOW_TRACKING_URI leaked via
    /model/info, /health and logs. Without a query the REST fetcher answers, with one the
    mlflow library does: both are redacted."""
    tracking = f"http://svc-user:SuperSecretPw@127.0.0.1:{free_port()}{tail}"
    settings = settings_factory(
        mlflow_tracking_uri=tracking,
        model_name="leak-test",
        registry_timeout_seconds=1.0,
        startup_wait_seconds=5.0,
    )
    shim = shim_factory(settings)
    texts = [shim.get("/model/info").body.decode(), shim.get("/health").body.decode()]
    texts += [record.getMessage() for record in caplog.records]
    assert "unreachable" in texts[1]
    if "?" not in tail:
        with pytest.raises(UnreachableError) as raised:
            RestRegistry(settings).resolve(ModelRef("alias", "m", "champion"))
        texts.append(str(raised.value))
    for text in texts:
        assert "SuperSecretPw" not in text and "svc-user" not in text and "abcSECRET" not in text


def test_model_names_with_quotes_search_correctly(settings_factory: Any) -> None:
    """MLflow's filter strings strip the outer quotes and unescape nothing."""
    from app.lifecycle.training import train

    name = "o'brien-model"
    settings = settings_factory(model_name=name, model_alias=None)
    result = train(settings, alpha=1.0)
    resolved = fetch_mlflow.resolve(settings, ModelRef("latest", name, "latest"))
    assert resolved.version == result.version
    assert fetch_mlflow.literal("it's") == '"it\'s"' and fetch_mlflow.literal("plain") == "'plain'"
