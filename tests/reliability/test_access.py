"""Access control, secrets and CORS, through the real Functions shim."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from devstack.services import AZURITE_KEY, free_port
from tests.support.models import ROW

ADMIN_KEY = "adm-3c1d9e-secret"
WEBHOOK_SECRET = "whk-77b2f0-secret"
APPINSIGHTS = "InstrumentationKey=ai-5e8a41-secret;IngestionEndpoint=https://example.invalid/"


def test_no_secret_in_responses_or_logs(
    champion: dict[str, Any], settings_factory: Any, shim_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_factory(
        admin_api_key=ADMIN_KEY,
        webhook_secret=WEBHOOK_SECRET,
        appinsights_connection_string=APPINSIGHTS,
        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}",
        registry_timeout_seconds=2.0,
    )
    connection_string = settings.storage_connection_string.get_secret_value()
    assert AZURITE_KEY in connection_string
    shim = shim_factory(settings)
    responses = [
        shim.get("/model/info"),
        shim.get("/health"),
        shim.get("/openapi.json"),
        shim.post("/model/reload"),
        shim.post("/model/reload", headers={"x-admin-key": "wrong"}),
        shim.post("/model/reload", headers={"x-admin-key": ADMIN_KEY}),
        shim.post("/predict", body=b"{", headers={"content-type": "application/json"}),
        shim.post("/invocations", json_body={"instances": [{**ROW, "age": "x"}]}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 401, 403, 200, 400, 400]
    assert responses[0].json()["source"] == "blob_fallback"  # the connection string was used
    secrets = [ADMIN_KEY, WEBHOOK_SECRET, "ai-5e8a41-secret", AZURITE_KEY, connection_string]
    for response in responses:
        for secret in secrets:
            assert secret.encode() not in response.body, (response, secret[:6])
            assert all(secret not in value for value in response.headers.values())
    assert caplog.records, "the load should have logged something"
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in repr(settings)


def test_admin_routes_need_the_key(
    champion: dict[str, Any], settings_factory: Any, shim_factory: Any
) -> None:
    shim = shim_factory(settings_factory(admin_api_key=ADMIN_KEY))
    missing = shim.post("/model/reload")
    assert (missing.status_code, missing.json()["field"]) == (401, "x-admin-key")
    wrong = shim.post("/model/reload", headers={"x-admin-key": ADMIN_KEY + "x"})
    assert (wrong.status_code, wrong.json()["error"]) == (403, "forbidden")
    assert shim.post("/model/reload", headers={"x-admin-key": ADMIN_KEY}).status_code == 200


def _preflight(shim: Any, origin: str) -> Any:
    return shim.request(
        "OPTIONS",
        "/predict",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )


def test_cors_is_off_by_default(champion: dict[str, Any], settings_factory: Any, shim_factory: Any) -> None:
    shim = shim_factory(settings_factory())
    assert "access-control-allow-origin" not in _preflight(shim, "https://app.example").headers
    simple = shim.get("/health/live", headers={"origin": "https://app.example"})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


def test_cors_allows_only_configured_origins(
    champion: dict[str, Any], settings_factory: Any, shim_factory: Any
) -> None:
    shim = shim_factory(settings_factory(cors_allow_origins=["https://app.example"]))
    allowed = _preflight(shim, "https://app.example")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    simple = shim.get("/health/live", headers={"origin": "https://app.example"})
    assert simple.headers["access-control-allow-origin"] == "https://app.example"
    other = _preflight(shim, "https://evil.example")
    assert "access-control-allow-origin" not in other.headers
    # Errors a browser must be able to read carry the header too, even the body-limit 413.
    too_big = shim.post(
        "/predict",
        body=b"x" * (shim.manager.settings.max_body_bytes + 1),
        headers={"origin": "https://app.example", "content-type": "application/json"},
    )
    assert too_big.status_code == 413
    assert too_big.headers["access-control-allow-origin"] == "https://app.example"


def test_cors_origins_parse_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import Settings

    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_allow_origins == ["https://a.example", "https://b.example"]


def test_blank_secrets_in_a_settings_file_mean_unset(
    champion: dict[str, Any], settings_factory: Any, shim_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """local.settings.json lists every name, the secrets as "": that must disable the admin
    API and webhooks, never enable them with an empty key anyone could sign with."""
    import json
    import time
    import uuid

    from app.security import mlflow_signature
    from app.settings import Settings

    for name in ("ADMIN_API_KEY", "MLFLOW_WEBHOOK_SECRET", "APPLICATIONINSIGHTS_CONNECTION_STRING"):
        monkeypatch.setenv(name, " ")
    from_env = Settings()
    assert from_env.admin_api_key is None and from_env.webhook_secret is None
    assert from_env.appinsights_connection_string is None

    shim = shim_factory(settings_factory(admin_api_key="", webhook_secret=""))
    admin = shim.get("/registry/models", headers={"x-admin-key": ""})
    assert admin.status_code == 403 and admin.json()["error"] == "admin_disabled"
    payload = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "data": {"name": champion["name"], "alias": "champion"},
        }
    ).encode()
    delivery, timestamp = uuid.uuid4().hex, str(int(time.time()))
    forged = shim.post(
        "/hooks/mlflow",
        body=payload,
        headers={
            "content-type": "application/json",
            "x-mlflow-delivery-id": delivery,
            "x-mlflow-timestamp": timestamp,
            "x-mlflow-signature": mlflow_signature("", delivery, timestamp, payload),
        },
    )
    assert forged.status_code == 403 and forged.json()["error"] == "webhooks_disabled"
