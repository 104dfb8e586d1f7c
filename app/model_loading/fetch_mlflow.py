"""Registry models and run artifacts through the ``mlflow`` library: any tracking URI scheme
(``azureml://``, ``databricks``, ``sqlite:``...), any reference kind, any artifact store.

Hands the load path a ``Resolved`` (with the signature found in the version tag or the run
tag) and a ``Reader`` that downloads one file at a time, so only the files the flavor needs
are fetched, and each one lands inside a temporary directory of its own.
"""

from __future__ import annotations

import math
import os
import posixpath
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.model_loading.fetch_rest import SIGNATURE_TAG
from app.model_loading.refs import ModelRef
from app.model_loading.types import LoadError, Resolved
from app.settings import Settings

RUN_SIGNATURE_TAG_PREFIX = "serving.signature."


def run_signature_tag(artifact_path: str) -> str:
    """The run tag that holds the signature of the run artifact at ``artifact_path``."""
    return RUN_SIGNATURE_TAG_PREFIX + artifact_path.strip("/")


_configure_lock = threading.Lock()
_applied: tuple[str, ...] | None = None


def configure(settings: Settings, *, retries: int = 0) -> None:
    """Set MLflow's process-wide switches at an entry point (the app's composition root, the
    CLI), which MLflow reads only from the environment: bounded HTTP timeouts and retries, no
    progress bars, and its pickle switch off (``mlflow_may_unpickle`` opens it only where a
    pickle was vouched for). Called once per process in practice; a repeat with the same values
    writes nothing. ``retries``: 0 for serving (the chain falls back instead), a few for the
    CLI (urllib3 sleeps 0, then 2 s, plus up to 0.5 s jitter each)."""
    global _applied
    values = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(settings.registry_timeout_seconds))),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",  # an int for MLflow
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",  # MLflow 3 reports usage home and delays exit
    }
    key = tuple(values.values())
    with _configure_lock:
        if key != _applied:
            os.environ.update(values)
            _applied = key


def ensure_configured(settings: Settings) -> None:
    """Configure MLflow unless an entry point already has (library use, tests)."""
    if _applied is None:
        configure(settings)


def client(settings: Settings) -> Any:
    """The MLflow client for the settings' tracking server, built once per server and shared
    (it holds no per-call state)."""
    ensure_configured(settings)
    return _client(settings.mlflow_tracking_uri)


@lru_cache(maxsize=8)
def _client(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


_pickle_switch = threading.Lock()


@contextmanager
def mlflow_may_unpickle() -> Iterator[None]:
    """Let MLflow unpickle inside this block only: a signed pickle the operator allowed
    (ALLOW_PICKLE, checked by the caller), or a model this very process just trained."""
    with _pickle_switch:
        previous = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
        os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", None)
            else:
                os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = previous


def literal(value: str) -> str:
    """``value`` as a string literal of an MLflow filter (``name = <literal>``).

    MLflow strips the outer quotes and unescapes nothing, so a value holding ``'`` is
    quoted with ``"`` instead; one holding both cannot be expressed."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise LoadError("a name holding both ' and \" cannot be searched in MLflow")


def resolve(settings: Settings, ref: ModelRef) -> Resolved:
    mlflow_client = client(settings)
    if ref.kind == "run_name":
        ref = ModelRef("run", latest_run_with_name(mlflow_client, ref.name), ref.ref)
    if ref.kind == "run":
        artifact_path = (ref.ref or "model").strip("/")
        tags = mlflow_client.get_run(ref.name).data.tags
        signature = tags.get(run_signature_tag(artifact_path))
        return Resolved(
            name=settings.model_name,
            version=None,
            run_id=ref.name,
            uri=ref.uri,
            artifact_path=artifact_path,
            signature=signature.encode() if signature else None,
        )
    if ref.kind == "alias":
        mv = mlflow_client.get_model_version_by_alias(ref.name, ref.ref)
        return _resolved(ref.name, mv, alias=ref.ref)
    if ref.kind == "version":
        mv = mlflow_client.get_model_version(ref.name, ref.ref)
        return _resolved(ref.name, mv, stage=_stage_of(mv))
    versions = mlflow_client.search_model_versions(f"name = {literal(ref.name)}")
    if ref.kind == "stage":
        versions = [v for v in versions if (v.current_stage or "").lower() == str(ref.ref).lower()]
    if not versions:
        where = f" in stage {ref.ref}" if ref.kind == "stage" else ""
        raise LoadError(f"model {ref.name!r} has no version{where}")
    latest = max(versions, key=lambda v: int(v.version))
    # search results may omit tags: read the version itself for its signature
    mv = mlflow_client.get_model_version(ref.name, str(latest.version))
    return _resolved(ref.name, mv, stage=_stage_of(mv))


def latest_run_with_name(mlflow_client: Any, run_name: str) -> str:
    experiments = [e.experiment_id for e in mlflow_client.search_experiments()]
    if not experiments:
        raise LoadError("the tracking server has no experiments")
    runs = mlflow_client.search_runs(
        experiments,
        filter_string=f"attributes.run_name = {literal(run_name)}",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise LoadError(f"no run named {run_name!r}")
    return str(runs[0].info.run_id)


def reader(settings: Settings, resolved: Resolved) -> MlflowReader:
    if resolved.version is not None:
        # A concrete location, asked of *this* server: a models:/ URI would be resolved
        # through MLflow's process-global registry URI, which may name another server.
        location = client(settings).get_model_version_download_uri(resolved.name, resolved.version)
    else:
        location = f"runs:/{resolved.run_id}/{resolved.artifact_path}"
    return MlflowReader(settings, str(location).rstrip("/"))


def run_metrics(settings: Settings, run_id: str) -> dict[str, float]:
    return dict(client(settings).get_run(run_id).data.metrics)


class MlflowReader:
    def __init__(self, settings: Settings, location: str) -> None:
        self._settings = settings
        self._location = location

    def read(self, relative: str, limit: int) -> bytes:
        import mlflow.artifacts

        with tempfile.TemporaryDirectory(prefix="artifact-") as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=posixpath.join(self._location, relative),
                    dst_path=tmp,
                    tracking_uri=self._settings.mlflow_tracking_uri,
                )
            )
            root = Path(tmp).resolve()
            if not local.resolve().is_relative_to(root) or not local.is_file():
                raise LoadError(f"{relative} did not download as a file inside its directory")
            if local.stat().st_size > limit:
                raise LoadError(f"{relative} is larger than {limit} bytes")
            return local.read_bytes()


def _resolved(name: str, mv: Any, **extra: Any) -> Resolved:
    signature = (mv.tags or {}).get(SIGNATURE_TAG)
    return Resolved(
        name=name,
        version=str(mv.version),
        run_id=mv.run_id or None,
        uri=f"models:/{name}/{mv.version}",
        source="registry",
        signature=signature.encode() if signature else None,
        **extra,
    )


def _stage_of(mv: Any) -> str | None:
    stage = getattr(mv, "current_stage", None)
    return stage if stage and stage != "None" else None
