"""The services a run needs (real MLflow server + Azurite) and the sample model in them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.services import MLflowServer, start_services

MODEL_NAME = "bench-diabetes"
ALIAS = "champion"


@dataclass
class Stack:
    workdir: Path
    mlflow: MLflowServer
    storage: Any
    version: str = ""
    trusted_types: tuple[str, ...] = ()
    name: str = MODEL_NAME
    signing_key: Path | None = None
    public_key: Path | None = None
    base_settings: Any = None  # use these Settings instead of ones built from the services
    flavor: str = "sklearn"  # the sample model's flavor (MODEL_FLAVOR of the serving process)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}@{ALIAS}"

    def settings_env(self) -> dict[str, str]:
        """Environment of the project's serving process: the deployed defaults, local services."""
        return {
            "MLFLOW_TRACKING_URI": self.mlflow.url,
            "MODEL_NAME": self.name,
            "MODEL_ALIAS": ALIAS,
            "MODEL_STORAGE_CONNECTION_STRING": self.storage.connection_string,
            "MODEL_REFRESH_SECONDS": "0",
            "FUNCTIONS_AUTH_LEVEL": "ANONYMOUS",
            "MODEL_SIGNING_PUBLIC_KEYS": str(self.public_key),
            "MODEL_FLAVOR": self.flavor,
        }

    def settings(self) -> Any:
        from app.settings import Settings

        if self.base_settings is not None:
            return self.base_settings
        return Settings(
            mlflow_tracking_uri=self.mlflow.url,
            model_name=self.name,
            model_alias=ALIAS,
            storage_connection_string=self.storage.connection_string,
            model_refresh_seconds=0.0,
            experiment_name="benchmarks",
            model_signing_key=str(self.signing_key),
            model_signing_public_keys=str(self.public_key),
            model_flavor=self.flavor,
        )

    def stop(self) -> None:
        for service in (self.mlflow, self.storage):
            try:
                service.stop()
            except Exception as exc:  # noqa: BLE001 - best effort on the way out
                print(f"warning: could not stop {type(service).__name__}: {exc}")


def start(workdir: Path, flavor: str = "sklearn") -> Stack:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    from app.signing.keys import generate

    mlflow, storage = start_services(workdir)
    private, public = generate(workdir / "signing")
    name = MODEL_NAME if flavor == "sklearn" else f"{MODEL_NAME}-{flavor}"
    return Stack(workdir, mlflow, storage, name=name, signing_key=private, public_key=public, flavor=flavor)


def publish_model(stack: Stack, flavor: str = "sklearn") -> None:
    """Make, sign and register the sample model of ``flavor`` and promote it (which also
    publishes the blob fallback)."""
    from app.lifecycle import promotion
    from app.model_loading import loader, trust
    from app.model_loading.refs import ModelRef
    from benchmarks.flavors import publish

    settings = stack.settings()
    version = publish(settings, flavor)
    decision = promotion.promote(settings, stack.name, version, alias=ALIAS)
    if not decision.promoted:
        raise RuntimeError(f"the sample model was not promoted: {decision.reason}")
    stack.version = version
    manifest = trust.verify(settings, loader.resolve(settings, ModelRef("version", stack.name, version)))
    assert manifest is not None
    stack.trusted_types = manifest.claims.trusted_types


def download_model_file(stack: Stack, dest: Path) -> Path:
    """The registered version's model file on local disk (for the floor and raw_predict)."""
    import mlflow.artifacts

    from app.model_loading import flavors, mlmodel
    from app.model_loading.fetch_mlflow import client

    settings = stack.settings()
    uri = client(settings).get_model_version_download_uri(stack.name, stack.version)
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(dest), tracking_uri=settings.mlflow_tracking_uri
        )
    )
    model_file = flavors.describe(mlmodel.parse((local / "MLmodel").read_bytes())).model_file
    assert model_file is not None
    return local / model_file
