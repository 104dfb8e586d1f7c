"""Write fallback blobs and pointers by hand, the way a tamperer or a broken publisher would."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from typing import Any

from app.model_loading import artifacts, blob_fallback
from app.settings import Settings
from app.storage import container


def fitted_ridge() -> Any:
    from sklearn.linear_model import Ridge

    from app.lifecycle.training import load_data

    features, target = load_data()
    return Ridge(alpha=1.0).fit(features, target)


def fitted_custom_pipeline() -> Any:
    """A pipeline whose FunctionTransformer calls a function skops does not know."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from app.lifecycle.training import load_data
    from tests.reliability.custom_code import double

    features, target = load_data()
    return make_pipeline(FunctionTransformer(double), fitted_ridge()).fit(features, target)


def pickled(obj: Any) -> bytes:
    return pickle.dumps(obj)


def upload(settings: Settings, blob: str, data: bytes) -> None:
    client = container(settings, settings.fallback_container, timeout=30)
    if not client.exists():
        client.create_container()
    client.upload_blob(blob, data, overwrite=True)


def pointer(name: str, data: bytes, *, fmt: str, model_class: str,
            trusted: list[str] | None = None, sha256: str | None = None) -> dict[str, Any]:
    suffix = "skops" if fmt == artifacts.SKOPS else "pkl"
    return {
        "model_name": name, "version": "7", "blob": f"{name}/7/model.{suffix}",
        "sha256": sha256 or artifacts.sha256_hex(data), "size_bytes": len(data),
        "format": fmt, "model_class": model_class, "trusted_types": trusted or [],
        "input_schema": None, "created_at": datetime.now(UTC).isoformat(),
    }


def publish(settings: Settings, name: str, data: bytes, **pointer_fields: Any) -> dict[str, Any]:
    """Upload ``data`` and a pointer to it; pointer fields may lie (sha256, model_class)."""
    doc = pointer(name, data, **pointer_fields)
    upload(settings, doc["blob"], data)
    upload(settings, blob_fallback.pointer_path(name), json.dumps(doc).encode())
    return doc
