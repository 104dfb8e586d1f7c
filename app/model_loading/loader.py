"""The one load path every source shares: resolve -> fetch -> verify -> deserialize by flavor.

``resolve`` turns a reference into one concrete ``Resolved`` (REST fetcher for http(s)
alias/version references, the mlflow library otherwise); ``load`` picks the reader for it
(REST, mlflow library or blob) and runs the same steps for all of them: the signature is
verified (``trust``), MLmodel and the model file are read through the signed manifest, and
only then does the flavor deserialize anything.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from app.deadline import in_daemon_thread
from app.model_loading import fetch_blob, fetch_mlflow, flavors, mlmodel, trust
from app.model_loading.fetch_rest import RestRegistry, Unsupported
from app.model_loading.refs import ModelRef
from app.model_loading.types import LoadedModel, Resolved
from app.settings import Settings

RunMetrics = Callable[[str], dict[str, float]]


def resolve(settings: Settings, ref: ModelRef) -> Resolved:
    """One concrete version or run artifact for ``ref`` (registry metadata calls only)."""
    try:
        return RestRegistry(settings).resolve(ref)  # no `import mlflow` on the common path
    except Unsupported:
        return fetch_mlflow.resolve(settings, ref)


def reader(settings: Settings, resolved: Resolved) -> tuple[trust.Reader, RunMetrics | None]:
    """The reader for ``resolved``'s files (blob, REST or mlflow library), and how to get its
    run's metrics (None for the blob copy, whose metrics are in its signed claims)."""
    if resolved.source == "blob_fallback":
        assert resolved.version is not None
        return fetch_blob.BlobReader(settings, resolved.name, resolved.version), None
    try:
        rest = RestRegistry(settings)
        return rest.reader(resolved), rest.run_metrics
    except Unsupported:
        return (
            fetch_mlflow.reader(settings, resolved),
            lambda run_id: fetch_mlflow.run_metrics(settings, run_id),
        )


def load(settings: Settings, resolved: Resolved) -> LoadedModel:
    """Fetch, verify and deserialize ``resolved``; raises LoadError with the reason."""
    files_reader, run_metrics = reader(settings, resolved)
    run_id = resolved.run_id
    # The run's metrics are informative only: fetched alongside the artifacts, not before.
    pending = (
        in_daemon_thread(lambda: run_metrics(run_id), "run-metrics")
        if run_metrics is not None and run_id
        else None
    )
    manifest = trust.verify(settings, resolved)
    files = trust.ArtifactFiles(files_reader, manifest)
    meta = mlmodel.parse(files.read("MLmodel", mlmodel.MAX_MLMODEL_BYTES))
    schema = meta.input_schema()
    model = flavors.load(settings, meta, files, manifest.claims if manifest else None)
    signed_metrics = dict(manifest.claims.metrics) if manifest else {}
    return LoadedModel(
        name=resolved.name,
        version=resolved.version,
        source=resolved.source,
        uri=resolved.uri,
        predict_fn=model.predict_fn,
        schema=schema,
        signature=meta.signature_json,
        run_id=resolved.run_id or (manifest.claims.run_id if manifest else None),
        alias=resolved.alias,
        stage=resolved.stage,
        sha256=model.sha256,
        model_class=model.model_class,
        flavor=model.flavor,
        format=model.format,
        deserializer=model.deserializer,
        metrics=_result(pending, settings.registry_timeout_seconds) or signed_metrics,
        trust="signed" if manifest else "unsigned",
        signed_by=manifest.key_id if manifest else None,
    )


def _result(future: Future[dict[str, float]] | None, timeout: float) -> dict[str, float]:
    if future is None:
        return {}
    try:
        return future.result(timeout=timeout)
    except Exception:  # noqa: BLE001 - metrics are informative only
        return {}
