"""Publish a registry version to the blob fallback (model bytes + current.json pointer)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.model_loading import artifacts, blob_fallback, registry
from app.model_loading.blob_fallback import FallbackPointer
from app.settings import Settings

DIGEST_TAG = "serving.fallback_sha256"


def publish_version(settings: Settings, model_name: str, version: str,
                    trust: list[str] | None = None) -> FallbackPointer:
    """Copy version ``version`` of ``model_name`` into the fallback container.

    skops bytes are published unchanged; a pickle-format model is converted to skops
    (which needs ALLOW_PICKLE to read it once). Types skops does not trust by default
    must be confirmed with ``trust``; they are recorded in the pointer.
    """
    import mlflow.artifacts

    registry.configure_mlflow_client(settings)
    resolved = registry.resolve(settings, registry.ModelRef("version", model_name, str(version)))
    client = registry.client(settings)
    trusted = set(settings.skops_trusted_types) | set(trust or [])
    mv = client.get_model_version(model_name, str(version))
    trusted |= set(registry._json_list(mv.tags.get(registry.TRUSTED_TYPES_TAG)))
    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        # Ask this server for the concrete location (a models:/ URI would go through
        # MLflow's process-global registry URI, which may name another server).
        location = client.get_model_version_download_uri(model_name, str(version))
        local = Path(mlflow.artifacts.download_artifacts(
            artifact_uri=location, dst_path=tmp,
            tracking_uri=settings.mlflow_tracking_uri))
        model = registry.load_local(settings, local, resolved, trusted, {})
        from mlflow.models import Model

        flavor = Model.load(str(local / "MLmodel")).flavors["sklearn"]
        data = (local / flavor["pickled_model"]).read_bytes()
    if flavor.get("serialization_format") != "skops":
        obj = artifacts.deserialize(data, artifacts.PICKLE, trusted=[], allow_pickle=True)
        data = artifacts.serialize_skops(obj)
    needed = artifacts.untrusted_types(data)
    unconfirmed = [t for t in needed if t not in trusted]
    if unconfirmed:
        raise ValueError("these types need --trust before publishing: " + ", ".join(unconfirmed))
    try:
        metrics = dict(client.get_run(resolved.run_id).data.metrics) if resolved.run_id else {}
    except Exception:  # noqa: BLE001
        metrics = {}
    from dataclasses import replace

    model = replace(model, metrics=metrics)
    pointer = blob_fallback.publish(settings, model, data, artifacts.SKOPS, needed)
    client.set_model_version_tag(model_name, str(version), DIGEST_TAG, pointer.sha256)
    return pointer
