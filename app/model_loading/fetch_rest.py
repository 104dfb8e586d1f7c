"""Registry models over MLflow's REST API, without importing ``mlflow`` (over a second of
cold start).

Serves ``http(s)://`` tracking URIs for alias and version references whose artifacts the
tracking server proxies (``mlflow-artifacts:``). Anything else raises ``Unsupported`` and
the caller uses the ``mlflow``-library fetcher (``fetch_mlflow``); both hand the same
``Resolved`` and ``Reader`` to the one load path, which does all trust checks.

Credentials never leave the tracking server's host: a redirect to another scheme, host or
port is refused (the ``Authorization`` header would follow it; review finding F9), and
every URL in a message is redacted (F8).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from app.model_loading.refs import ModelRef
from app.model_loading.types import LoadError, Resolved, UnreachableError
from app.redact import redact
from app.settings import Settings

SIGNATURE_TAG = "serving.signature"
_API = "/api/2.0/mlflow"
_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
# Client settings of MLflow's HTTP layer that this client does not implement.
_UNSUPPORTED_ENV = (
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_TRACKING_AUTH",
    "MLFLOW_REGISTRY_URI",
)


class Unsupported(Exception):
    """Not a case for the REST fetcher: the caller uses the mlflow library instead."""


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the same scheme, host and port (credentials go with it)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            raise LoadError(
                "the tracking server redirected to another host; refused, so credentials are not sent there"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects())


class RestRegistry:
    def __init__(self, settings: Settings) -> None:
        uri = settings.mlflow_tracking_uri.rstrip("/")
        parsed = urllib.parse.urlsplit(uri)
        if parsed.scheme not in ("http", "https") or parsed.query or parsed.fragment:
            raise Unsupported("tracking URI scheme")
        if any(os.environ.get(name) for name in _UNSUPPORTED_ENV):
            raise Unsupported("MLflow client TLS/auth/registry settings are in use")
        self.base = uri
        self.netloc = parsed.netloc
        self.timeout = max(1, int(settings.registry_timeout_seconds))
        self.headers = {"User-Agent": "mlflow-azure-serving"}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = (
            os.environ.get("MLFLOW_TRACKING_USERNAME"),
            os.environ.get("MLFLOW_TRACKING_PASSWORD"),
        )
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user and password:
            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {pair}"

    # --- HTTP ---------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, str] | None = None, limit: int | None = None) -> bytes:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, headers=self.headers)  # noqa: S310 - http(s) only
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                data: bytes = response.read() if limit is None else response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise Unsupported(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnreachableError(
                redact(f"registry unreachable: API request to {url} failed ({type(reason).__name__})")
            ) from None
        if limit is not None and len(data) > limit:
            raise LoadError(f"{path.rsplit('/', 1)[-1]} is larger than {limit} bytes")
        return data

    def get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            document = json.loads(self.get(_API + path, params))
        except ValueError:
            raise Unsupported("not JSON") from None
        if not isinstance(document, dict):
            raise Unsupported("not an object")
        return document

    # --- registry -----------------------------------------------------------------------
    def resolve(self, ref: ModelRef) -> Resolved:
        if ref.kind == "alias" and ref.ref:
            mv = _version(self.get_json("/registered-models/alias", {"name": ref.name, "alias": ref.ref}))
            return _resolved(ref.name, mv, alias=ref.ref)
        if ref.kind == "version" and ref.ref:
            mv = _version(self.get_json("/model-versions/get", {"name": ref.name, "version": ref.ref}))
            return _resolved(ref.name, mv, stage=_stage(mv))
        raise Unsupported(ref.kind)

    def reader(self, resolved: Resolved) -> RestReader:
        if resolved.version is None:
            raise Unsupported("run artifacts")
        document = self.get_json(
            "/model-versions/get-download-uri", {"name": resolved.name, "version": resolved.version}
        )
        location = document.get("artifact_uri")
        if not isinstance(location, str):
            raise Unsupported("no artifact_uri")
        parsed = urllib.parse.urlsplit(location)
        if parsed.scheme != "mlflow-artifacts" or parsed.netloc not in ("", self.netloc):
            raise Unsupported("artifact store not proxied by the tracking server")
        return RestReader(self, [p for p in parsed.path.split("/") if p])

    def run_metrics(self, run_id: str) -> dict[str, float]:
        run = self.get_json("/runs/get", {"run_id": run_id}).get("run") or {}
        metrics = (run.get("data") or {}).get("metrics") or []
        return {str(m["key"]): float(m["value"]) for m in metrics}


class RestReader:
    """Files under an ``mlflow-artifacts:`` location, through the tracking server's proxy."""

    def __init__(self, registry: RestRegistry, base: list[str]) -> None:
        self._registry = registry
        self._base = base

    def read(self, relative: str, limit: int) -> bytes:
        parts = [*self._base, *relative.split("/")]
        path = _ARTIFACTS + "/" + "/".join(urllib.parse.quote(p) for p in parts)
        try:
            return self._registry.get(path, limit=limit)
        except Unsupported as exc:  # an HTTP error status for a file of a resolved version
            raise LoadError(f"could not download {relative} ({exc})") from None


def _version(document: dict[str, Any]) -> dict[str, Any]:
    mv = document.get("model_version")
    if not isinstance(mv, dict) or "version" not in mv:
        raise Unsupported("no model_version in the answer")
    return mv


def _resolved(name: str, mv: dict[str, Any], **extra: Any) -> Resolved:
    tags = {str(t.get("key")): str(t.get("value")) for t in mv.get("tags") or []}
    signature = tags.get(SIGNATURE_TAG)
    return Resolved(
        name=name,
        version=str(mv["version"]),
        run_id=mv.get("run_id") or None,
        uri=f"models:/{name}/{mv['version']}",
        source="registry",
        signature=signature.encode() if signature else None,
        **extra,
    )


def _stage(mv: dict[str, Any]) -> str | None:
    stage = mv.get("current_stage")
    return stage if stage and stage != "None" else None
