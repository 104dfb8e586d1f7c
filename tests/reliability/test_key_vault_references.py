"""Unresolved Key Vault references are unset, never secrets (security review F7).

When App Service cannot resolve a Key Vault reference it hands the app the reference's own
text, which is predictable from the public host name. Before the fix that text was accepted
as ``ADMIN_API_KEY`` and ``MLFLOW_WEBHOOK_SECRET``: anyone who guessed it was admin and
could sign webhooks.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from app.security import mlflow_signature
from app.settings import Settings

VAULT = "https://kv-mlsdev1a2b3.vault.azure.net/secrets"
ADMIN_REF = f"@Microsoft.KeyVault(SecretUri={VAULT}/admin-api-key)"
WEBHOOK_REF = f"@Microsoft.KeyVault(SecretUri={VAULT}/mlflow-webhook-secret)"


def test_unresolved_references_grant_nothing_and_show_in_health(
    champion: dict[str, Any],
    settings_factory: Any,
    shim_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    shim = shim_factory(settings_factory(admin_api_key=ADMIN_REF, webhook_secret=WEBHOOK_REF))

    registry = shim.get("/registry/models", headers={"x-admin-key": ADMIN_REF})
    assert (registry.status_code, registry.json()["error"]) == (403, "admin_disabled")

    body = b'{"entity": "model_version_alias", "action": "created", "data": {}}'
    now = str(int(time.time()))
    forged = shim.post(
        "/hooks/mlflow",
        body=body,
        headers={
            "content-type": "application/json",
            "x-mlflow-delivery-id": "d-1",
            "x-mlflow-timestamp": now,
            "x-mlflow-signature": mlflow_signature(WEBHOOK_REF, "d-1", now, body),
        },
    )
    assert (forged.status_code, forged.json()["error"]) == (403, "webhooks_disabled")

    health = shim.get("/health")
    assert health.status_code == 200
    assert health.json()["unresolved_settings"] == ["ADMIN_API_KEY", "MLFLOW_WEBHOOK_SECRET"]
    assert b"vault.azure.net" not in health.body  # names only

    errors = [
        r for r in caplog.records if r.levelno == logging.ERROR and "unresolved Key Vault" in r.getMessage()
    ]
    assert len(errors) == 1
    assert "ADMIN_API_KEY" in errors[0].getMessage()
    assert "vault.azure.net" not in caplog.text


def test_reload_stays_closed_when_the_admin_key_is_unresolved(
    champion: dict[str, Any],
    settings_factory: Any,
    shim_factory: Any,
) -> None:
    """Without ADMIN_API_KEY reload is open (documented); an unresolved key must not open it."""
    shim = shim_factory(settings_factory(admin_api_key=ADMIN_REF))
    for headers in ({}, {"x-admin-key": ADMIN_REF}):
        reload = shim.post("/model/reload", headers=headers)
        assert (reload.status_code, reload.json()["error"]) == (403, "admin_disabled")
    assert shim.get("/health").json()["unresolved_settings"] == ["ADMIN_API_KEY"]


def test_references_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_API_KEY", ADMIN_REF)
    monkeypatch.setenv("MLFLOW_WEBHOOK_SECRET", "  " + WEBHOOK_REF.lower())
    monkeypatch.setenv(
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "@Microsoft.AppConfiguration(Endpoint=https://x.azconfig.io; Key=ai)",
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"@Microsoft.KeyVault(SecretUri={VAULT}/uri)")
    monkeypatch.setenv("MODEL_NAME", "resolved-model")
    settings = Settings()
    assert settings.admin_api_key is None and settings.webhook_secret is None
    assert settings.appinsights_connection_string is None
    assert settings.mlflow_tracking_uri == Settings.model_fields["mlflow_tracking_uri"].default
    assert settings.model_name == "resolved-model"
    assert settings.unresolved_settings == (
        "ADMIN_API_KEY",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_WEBHOOK_SECRET",
    )
    assert Settings(admin_api_key="real-key").unresolved_settings == (
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_WEBHOOK_SECRET",
    )
