"""A private MLflow server + Azurite pair for tests that stop or pause services.

The session-wide services are shared with other test modules and must never be faulted;
these are started per module, hold their own trained model, and are stopped at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.settings import Settings
from devstack.services import AzuriteProcess, MLflowServer, start_services


@dataclass
class Stack:
    mlflow: MLflowServer
    azurite: AzuriteProcess
    model_name: str
    version: str
    sha256: str
    previous_tracking_uri: str = ""
    signing_key: Path | None = None
    public_key: Path | None = None

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "mlflow_tracking_uri": self.mlflow.url,
            "storage_connection_string": self.azurite.connection_string,
            "model_name": self.model_name,
            "model_alias": "champion",
            "registry_timeout_seconds": 2.0,
            "model_refresh_seconds": 0.0,
            "startup_wait_seconds": 20.0,
            "retry_initial_seconds": 0.5,
            "retry_max_seconds": 2.0,
            "experiment_name": "reliability",
            "model_signing_key": str(self.signing_key),
            "model_signing_public_keys": str(self.public_key),
        }
        values.update(overrides)
        return Settings(**values)

    def heal(self) -> None:
        """Bring both services back (resumed and running), whatever a test did to them."""
        for service in (self.mlflow, self.azurite):
            service.resume()
            if not service.running:
                service.start()

    def stop(self) -> None:
        """Stop both services and give MLflow's process-global tracking URI back.

        ``train()`` points the global URI at this stack; left behind, MLflow code that
        resolves ``models:/`` URIs through it would call a server that no longer exists.
        """
        import mlflow

        self.mlflow.stop()
        self.azurite.stop()
        if self.previous_tracking_uri:
            mlflow.set_tracking_uri(self.previous_tracking_uri)


def start_stack(workdir: Path, model_name: str) -> Stack:
    """Start both services, train ``model_name`` v1, alias it champion and publish it."""
    import mlflow

    from app.lifecycle import promotion
    from app.lifecycle.training import train

    previous = mlflow.get_tracking_uri()

    # A process (not a container): the fault tests pause and resume it.
    mlflow_server, azurite = start_services(workdir, storage=AzuriteProcess)
    stack = Stack(mlflow_server, azurite, model_name, "", "", previous)
    from app.signing.keys import generate

    stack.signing_key, stack.public_key = generate(workdir / "signing")
    try:
        settings = stack.settings(registry_timeout_seconds=8.0)
        result = train(settings, alpha=1.0)
        decision = promotion.promote(settings, model_name, result.version, alias="champion")
        assert decision.promoted and decision.fallback_version == result.version
        from tests.conftest import signed_model_file_sha256

        sha256 = signed_model_file_sha256(settings, model_name, result.version)
    except Exception:
        stack.stop()
        raise
    stack.version, stack.sha256 = result.version, sha256
    return stack
