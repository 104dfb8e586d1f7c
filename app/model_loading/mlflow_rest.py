"""A fast path to registry models over MLflow's REST API, without importing ``mlflow``.

Importing ``mlflow`` costs over a second of cold start. For ``http(s)://`` tracking URIs and
the common references (``models:/name@alias``, ``models:/name/<version>``) this module makes
the few REST calls serving needs, downloads only ``MLmodel`` and the model file, and builds
the same ``LoadedModel`` as ``registry.load_local`` with the same trust rules (trusted types
from the version tag ``serving.skops_trusted_types`` plus ``SKOPS_TRUSTED_TYPES``, never from
MLmodel).

Anything it does not expect (another URI scheme, an artifact store it does not proxy, an
HTTP error status, a signature it cannot compile, a non-scikit-learn flavour) returns None
so the caller takes the ``mlflow``-library path, which then behaves and fails exactly as
before. A server that does not answer is reported as unreachable, as MLflow reports it.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from app.deadline import in_daemon_thread
from app.model_loading import artifacts
from app.model_loading.types import LoadedModel, class_path
from app.settings import Settings

if TYPE_CHECKING:
    from app.model_loading.registry import ModelRef, Resolved

_API = "/api/2.0/mlflow"
_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
# Client settings of MLflow's HTTP layer that this client does not implement.
_UNSUPPORTED_ENV = ("MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH",
                    "MLFLOW_TRACKING_CLIENT_CERT_PATH", "MLFLOW_TRACKING_AUTH",
                    "MLFLOW_REGISTRY_URI")
_COLUMN_KEYS = {"name", "type", "required"}
MAX_MLMODEL_BYTES = 1024 * 1024


class Unsupported(Exception):
    """Not a case for the fast path: the caller uses the mlflow library instead."""


class RestClient:
    def __init__(self, settings: Settings) -> None:
        uri = settings.mlflow_tracking_uri.rstrip("/")
        parsed = urllib.parse.urlsplit(uri)
        if parsed.scheme not in ("http", "https") or parsed.query or parsed.fragment:
            raise Unsupported(f"tracking URI scheme {parsed.scheme!r}")
        if any(os.environ.get(name) for name in _UNSUPPORTED_ENV):
            raise Unsupported("MLflow client TLS/auth/registry settings are in use")
        self.base = uri
        self.netloc = parsed.netloc
        self.timeout = max(1, int(settings.registry_timeout_seconds))
        self.headers = {"User-Agent": "mlflow-azure-serving"}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = (os.environ.get("MLFLOW_TRACKING_USERNAME"),
                          os.environ.get("MLFLOW_TRACKING_PASSWORD"))
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user and password:
            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {pair}"

    def get(self, path: str, params: dict[str, str] | None = None,
            limit: int | None = None) -> bytes:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, headers=self.headers)  # noqa: S310 - http(s) only
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                data = response.read() if limit is None else response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise Unsupported(f"HTTP {exc.code} from {path}") from None
        except (urllib.error.URLError, OSError) as exc:
            # Worded like MLflow's own error, so callers classify it the same way.
            raise ConnectionError(f"API request to {url} failed with exception {exc}") from None
        if limit is not None and len(data) > limit:
            raise Unsupported(f"{path} is larger than {limit} bytes")
        return data

    def get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            document = json.loads(self.get(_API + path, params))
        except ValueError:
            raise Unsupported(f"{path} did not answer JSON") from None
        if not isinstance(document, dict):
            raise Unsupported(f"{path} did not answer an object")
        return document

    def model_version(self, name: str, version: str) -> dict[str, Any]:
        return _version(self.get_json("/model-versions/get", {"name": name, "version": version}))

    def version_by_alias(self, name: str, alias: str) -> dict[str, Any]:
        return _version(self.get_json("/registered-models/alias", {"name": name, "alias": alias}))

    def download_uri(self, name: str, version: str) -> str:
        document = self.get_json("/model-versions/get-download-uri",
                                 {"name": name, "version": version})
        uri = document.get("artifact_uri")
        if not isinstance(uri, str):
            raise Unsupported("no artifact_uri for the model version")
        return uri

    def run_metrics(self, run_id: str) -> dict[str, float]:
        run = self.get_json("/runs/get", {"run_id": run_id}).get("run") or {}
        metrics = (run.get("data") or {}).get("metrics") or []
        return {str(m["key"]): float(m["value"]) for m in metrics}

    def artifact(self, artifact_uri: str, relative: str, limit: int) -> bytes:
        """A file under an ``mlflow-artifacts:`` URI served by this same server."""
        parsed = urllib.parse.urlsplit(artifact_uri)
        if parsed.scheme != "mlflow-artifacts" or parsed.netloc not in ("", self.netloc):
            raise Unsupported(f"artifact URI scheme {parsed.scheme!r}")
        parts = [p for p in f"{parsed.path}/{relative}".split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise Unsupported("unexpected artifact path")
        return self.get(_ARTIFACTS + "/" + "/".join(urllib.parse.quote(p) for p in parts),
                        limit=limit)


def _version(document: dict[str, Any]) -> dict[str, Any]:
    mv = document.get("model_version")
    if not isinstance(mv, dict) or "version" not in mv:
        raise Unsupported("no model_version in the answer")
    return mv


def _tags(mv: dict[str, Any]) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value")) for t in mv.get("tags") or []}


def _stage(mv: dict[str, Any]) -> str | None:
    stage = mv.get("current_stage")
    return stage if stage and stage != "None" else None


def try_resolve(settings: Settings, ref: ModelRef) -> Resolved | None:
    """``registry.resolve`` for alias and version references, or None to use mlflow."""
    from app.model_loading.registry import Resolved

    if ref.kind not in ("alias", "version") or ref.ref is None:
        return None
    try:
        rest = RestClient(settings)
        if ref.kind == "alias":
            mv = rest.version_by_alias(ref.name, ref.ref)
            return Resolved(ref.name, str(mv["version"]), mv.get("run_id") or None,
                            f"models:/{ref.name}/{mv['version']}", alias=ref.ref, tags=_tags(mv))
        mv = rest.model_version(ref.name, ref.ref)
        return Resolved(ref.name, str(mv["version"]), mv.get("run_id") or None,
                        f"models:/{ref.name}/{mv['version']}", stage=_stage(mv), tags=_tags(mv))
    except Unsupported:
        return None


def try_load(settings: Settings, resolved: Resolved) -> LoadedModel | None:
    """``registry.load_resolved`` for scikit-learn registry versions, or None to use mlflow."""
    if resolved.version is None:
        return None
    try:
        return _load(settings, resolved)
    except Unsupported:
        return None


def _load(settings: Settings, resolved: Resolved) -> LoadedModel:
    from app.model_loading import registry

    rest = RestClient(settings)
    assert resolved.version is not None
    # The run's metrics are informative only: fetched alongside the artifacts, not before.
    metrics = in_daemon_thread(
        lambda: rest.run_metrics(resolved.run_id) if resolved.run_id else {}, "run-metrics")
    tags = resolved.tags
    if tags is None:
        tags = _tags(rest.model_version(resolved.name, resolved.version))
    trusted = set(settings.skops_trusted_types)
    trusted.update(registry._json_list(tags.get(registry.TRUSTED_TYPES_TAG)))
    artifact_uri = rest.download_uri(resolved.name, resolved.version)
    meta = _parse_mlmodel(rest.artifact(artifact_uri, "MLmodel", MAX_MLMODEL_BYTES))
    sk = meta["flavors"].get("sklearn") if isinstance(meta.get("flavors"), dict) else None
    if not isinstance(sk, dict) or not isinstance(sk.get("pickled_model"), str):
        raise Unsupported("not a scikit-learn model")
    signature = meta.get("signature")
    schema = _schema(signature)
    data = rest.artifact(artifact_uri, sk["pickled_model"], artifacts_limit())
    fmt = artifacts.SKOPS if sk.get("serialization_format", "pickle") == "skops" else artifacts.PICKLE
    obj = artifacts.deserialize(data, fmt, trusted=trusted, allow_pickle=settings.allow_pickle)
    return LoadedModel(
        name=resolved.name, version=resolved.version, source="registry",
        uri=resolved.download_uri, schema=schema,
        signature=registry._signature_json(signature if isinstance(signature, dict) else None),
        run_id=resolved.run_id, alias=resolved.alias, stage=resolved.stage,
        metrics=_result_or_empty(metrics, rest.timeout),
        predict_fn=registry.sklearn_predictor(obj), sha256=artifacts.sha256_hex(data),
        model_class=class_path(obj),
    )


def _result_or_empty(future: Future[dict[str, float]], timeout: float) -> dict[str, float]:
    try:
        return future.result(timeout=timeout)
    except Exception:  # noqa: BLE001 - metrics are informative only
        return {}


def artifacts_limit() -> int:
    return 1024 * 1024 * 1024


def _parse_mlmodel(text: bytes) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        meta = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        raise Unsupported("MLmodel is not YAML") from None
    if not isinstance(meta, dict):
        raise Unsupported("MLmodel is not a mapping")
    return meta


def _schema(signature: Any) -> Any:
    """The compiled input schema, as ``InputSchema.from_mlflow_signature`` would build it."""
    from app.input_schema import InputSchema

    if signature is None:
        return None
    if not isinstance(signature, dict):
        raise Unsupported("unexpected signature")
    raw = signature.get("inputs")
    if raw is None:
        return None
    try:
        columns = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        columns = None
    if not isinstance(columns, list) or not columns:
        raise Unsupported("unexpected signature inputs")
    simple = all(isinstance(c, dict) and set(c) <= _COLUMN_KEYS and isinstance(c.get("name"), str)
                 and isinstance(c.get("type"), str) and c["type"] != "tensor" for c in columns)
    if not simple:
        raise Unsupported("signature inputs need mlflow to interpret")
    try:
        return InputSchema.from_dict(columns)
    except (ValueError, KeyError):
        raise Unsupported("signature inputs need mlflow to interpret") from None
