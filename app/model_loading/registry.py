"""Models from an MLflow tracking server / registry: URI parsing, resolution and loading.

The registry names a version; the artifact is downloaded and deserialized by
``artifacts.deserialize`` (never by MLflow's own loader for scikit-learn models, whose
skops allow-list would come from the artifact itself).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.input_schema import InputSchema
from app.model_loading import artifacts, mlflow_rest
from app.model_loading.types import LoadedModel, LoadError, UnreachableError, class_path
from app.settings import Settings

TRUSTED_TYPES_TAG = "serving.skops_trusted_types"
_STAGES = {"none", "staging", "production", "archived"}


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``models:/`` or ``runs:/`` URI."""

    kind: str  # alias | stage | version | latest | run
    name: str  # model name, or run id for kind == "run"
    ref: str | None = None  # alias, stage, version, or the artifact path of a run

    @property
    def uri(self) -> str:
        if self.kind == "run":
            return f"runs:/{self.name}/{self.ref}"
        if self.kind == "alias":
            return f"models:/{self.name}@{self.ref}"
        return f"models:/{self.name}/{self.ref}"


def parse_uri(uri: str) -> ModelRef:
    uri = uri.strip()
    if match := re.fullmatch(r"runs:/([^/]+)/(.+)", uri):
        return ModelRef("run", match.group(1), match.group(2).strip("/"))
    if match := re.fullmatch(r"models:/([^/@]+)@([\w\-]+)", uri):
        return ModelRef("alias", match.group(1), match.group(2))
    if match := re.fullmatch(r"models:/([^/@]+)/([^/]+)", uri):
        name, ref = match.group(1), match.group(2)
        if ref.isdigit():
            return ModelRef("version", name, ref)
        if ref.lower() == "latest":
            return ModelRef("latest", name, "latest")
        if ref.lower() in _STAGES:
            return ModelRef("stage", name, ref.capitalize())
    raise ValueError(
        f"unsupported model URI {uri!r}: use models:/name@alias, models:/name/<Stage>, "
        "models:/name/<version>, models:/name/latest or runs:/<run_id>/<path>"
    )


def configure_mlflow_client(settings: Settings) -> None:
    """Bound MLflow's HTTP calls and pin its pickle switch to our own setting."""
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, int(settings.registry_timeout_seconds)))
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true" if settings.allow_pickle else "false"


def client(settings: Settings) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri)


def is_unreachable(exc: BaseException) -> bool:
    """True when the error means the server did not answer, rather than said no."""
    text = f"{type(exc).__name__}: {exc}"
    markers = ("ConnectionError", "Connection refused", "Max retries exceeded", "timed out",
               "Timeout", "NewConnectionError", "RemoteDisconnected", "API request to")
    return any(m in text for m in markers) and "RESOURCE_DOES_NOT_EXIST" not in text


@dataclass(frozen=True)
class Resolved:
    name: str
    version: str | None
    run_id: str | None
    download_uri: str
    alias: str | None = None
    stage: str | None = None
    # The version's tags as read while resolving, so loading needs no second metadata call.
    tags: dict[str, str] | None = None


def resolve(settings: Settings, ref: ModelRef) -> Resolved:
    """Turn a reference into one concrete version (or run artifact)."""
    fast = mlflow_rest.try_resolve(settings, ref)  # http(s) alias/version without `import mlflow`
    if fast is not None:
        return fast
    mlflow_client = client(settings)
    if ref.kind == "run":
        return Resolved(settings.model_name, None, ref.name, ref.uri)
    if ref.kind == "alias":
        mv = mlflow_client.get_model_version_by_alias(ref.name, ref.ref)
        return Resolved(ref.name, str(mv.version), mv.run_id, f"models:/{ref.name}/{mv.version}",
                        alias=ref.ref)
    if ref.kind == "version":
        mv = mlflow_client.get_model_version(ref.name, ref.ref)
        return Resolved(ref.name, str(mv.version), mv.run_id, f"models:/{ref.name}/{mv.version}",
                        stage=_stage_of(mv))
    stages = [ref.ref] if ref.kind == "stage" else None
    versions = mlflow_client.search_model_versions(f"name = '{_quote(ref.name)}'")
    if stages:
        versions = [v for v in versions if (v.current_stage or "").lower() == stages[0].lower()]
    if not versions:
        where = f" in stage {ref.ref}" if stages else ""
        raise LoadError(f"model {ref.name!r} has no version{where}")
    mv = max(versions, key=lambda v: int(v.version))
    return Resolved(ref.name, str(mv.version), mv.run_id, f"models:/{ref.name}/{mv.version}",
                    stage=_stage_of(mv))


def latest_run_with_name(settings: Settings, run_name: str) -> str:
    mlflow_client = client(settings)
    experiments = [e.experiment_id for e in mlflow_client.search_experiments()]
    if not experiments:
        raise LoadError("the tracking server has no experiments")
    runs = mlflow_client.search_runs(
        experiments, filter_string=f"attributes.run_name = '{_quote(run_name)}'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    if not runs:
        raise LoadError(f"no run named {run_name!r}")
    return runs[0].info.run_id


def load_resolved(settings: Settings, resolved: Resolved) -> LoadedModel:
    fast = mlflow_rest.try_load(settings, resolved)  # same model, same trust, no `import mlflow`
    if fast is not None:
        return fast
    import mlflow.artifacts

    mlflow_client = client(settings)
    trusted = set(settings.skops_trusted_types)
    metrics: dict[str, float] = {}
    artifact_uri = resolved.download_uri
    if resolved.version is not None:
        mv = mlflow_client.get_model_version(resolved.name, resolved.version)
        trusted.update(_json_list(mv.tags.get(TRUSTED_TYPES_TAG)))
        # A concrete location, asked of *this* server: a models:/ URI would be resolved
        # through MLflow's process-global registry URI, which may name another server.
        artifact_uri = mlflow_client.get_model_version_download_uri(resolved.name,
                                                                    resolved.version)
    if resolved.run_id:
        try:
            metrics = dict(mlflow_client.get_run(resolved.run_id).data.metrics)
        except Exception:  # noqa: BLE001 - metrics are informative only
            metrics = {}
    with tempfile.TemporaryDirectory(prefix="model-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_uri, dst_path=tmp,
            tracking_uri=settings.mlflow_tracking_uri,
        )
        return load_local(settings, Path(local), resolved, trusted, metrics)


def load_local(settings: Settings, path: Path, resolved: Resolved, trusted: set[str],
               metrics: dict[str, float]) -> LoadedModel:
    from mlflow.models import Model

    mlmodel = path / "MLmodel"
    if not mlmodel.is_file():
        raise LoadError(f"{resolved.download_uri} has no MLmodel file")
    meta = Model.load(str(mlmodel))
    schema = InputSchema.from_mlflow_signature(meta.signature)
    signature = meta.signature.to_dict() if meta.signature is not None else None
    common = dict(name=resolved.name, version=resolved.version, source="registry",
                  uri=resolved.download_uri, schema=schema, signature=_signature_json(signature),
                  run_id=resolved.run_id, alias=resolved.alias, stage=resolved.stage,
                  metrics=metrics)
    sk = meta.flavors.get("sklearn")
    if sk is not None:
        model_file = path / sk["pickled_model"]
        data = model_file.read_bytes()
        fmt = sk.get("serialization_format", "pickle")
        fmt = artifacts.SKOPS if fmt == "skops" else artifacts.PICKLE
        obj = artifacts.deserialize(data, fmt, trusted=trusted, allow_pickle=settings.allow_pickle)
        return LoadedModel(predict_fn=sklearn_predictor(obj), sha256=artifacts.sha256_hex(data),
                           model_class=class_path(obj), **common)  # type: ignore[arg-type]
    if not settings.allow_pickle:
        raise LoadError(
            "only scikit-learn models load without ALLOW_PICKLE; this model's flavors are "
            + ", ".join(sorted(meta.flavors))
        )
    import mlflow.pyfunc

    pyfunc_model = mlflow.pyfunc.load_model(str(path))
    return LoadedModel(predict_fn=lambda frame, params: pyfunc_model.predict(frame, params=params),
                       model_class="mlflow.pyfunc.PyFuncModel", **common)  # type: ignore[arg-type]


def sklearn_predictor(model: Any) -> Any:
    predict = model.predict

    def run(frame: Any, params: dict[str, Any] | None) -> Any:
        return predict(frame)

    return run


def load_ref(settings: Settings, ref: ModelRef) -> LoadedModel:
    return load_resolved(settings, resolve(settings, ref))


def wrap_error(exc: BaseException) -> LoadError:
    if isinstance(exc, LoadError):
        return exc
    text = _short(exc)
    if is_unreachable(exc):
        return UnreachableError(f"registry unreachable: {text}")
    return LoadError(text)


def _short(exc: BaseException) -> str:
    message = str(getattr(exc, "message", "") or exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message[:300]}"


def _stage_of(mv: Any) -> str | None:
    stage = getattr(mv, "current_stage", None)
    return stage if stage and stage != "None" else None


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


def _json_list(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return []
    return [str(v) for v in parsed] if isinstance(parsed, list) else []


def _signature_json(signature: dict[str, Any] | None) -> dict[str, Any] | None:
    if signature is None:
        return None
    out: dict[str, Any] = {}
    for key in ("inputs", "outputs", "params"):
        value = signature.get(key)
        out[key] = json.loads(value) if isinstance(value, str) else value
    return out
