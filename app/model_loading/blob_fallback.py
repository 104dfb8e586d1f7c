"""The model kept in Blob Storage for when the registry cannot serve one.

Layout in the fallback container, per model::

    <model_name>/<version>/model.skops   (or model.pkl when published as pickle)
    <model_name>/current.json            the pointer: version, blob, sha256, format, ...

Loading downloads the pointer, then the blob, checks the blob's sha256 against the
pointer **before** deserializing it, and checks the loaded object's class.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from app.input_schema import InputSchema
from app.model_loading import artifacts
from app.model_loading.types import LoadedModel, LoadError, UnreachableError, class_path
from app.settings import Settings
from app.storage import container

POINTER_NAME = "current.json"
MAX_POINTER_BYTES = 256 * 1024
MAX_MODEL_BYTES = 1024 * 1024 * 1024


class FallbackPointer(BaseModel):
    """Contents of ``<model_name>/current.json``."""

    schema_version: int = 1
    model_name: str
    version: str
    blob: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)
    format: str
    model_class: str
    trusted_types: list[str] = Field(default_factory=list)
    signature: dict[str, Any] | None = None
    input_schema: list[dict[str, Any]] | None = None
    run_id: str | None = None
    source_uri: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    created_at: str

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in artifacts.FORMATS:
            raise ValueError(f"format must be one of {artifacts.FORMATS}")
        return value


def pointer_path(model_name: str) -> str:
    return f"{model_name}/{POINTER_NAME}"


def _is_unreachable(exc: BaseException) -> bool:
    from azure.core.exceptions import (
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, ResourceNotFoundError):
        return False
    return isinstance(exc, (ServiceRequestError, ServiceResponseError, TimeoutError, OSError))


def _download(settings: Settings, blob: str, limit: int) -> bytes:
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        client = container(settings, settings.fallback_container).get_blob_client(blob)
        downloader = client.download_blob()
        if downloader.size > limit:
            raise LoadError(f"{blob} is {downloader.size} bytes, over the {limit}-byte limit")
        return downloader.readall()
    except ResourceNotFoundError:
        raise LoadError(f"blob {settings.fallback_container}/{blob} does not exist") from None
    except AzureError as exc:
        message = f"blob storage error reading {blob}: {type(exc).__name__}"
        raise (UnreachableError(message) if _is_unreachable(exc) else LoadError(message)) from None


def read_pointer(settings: Settings, model_name: str) -> FallbackPointer:
    raw = _download(settings, pointer_path(model_name), MAX_POINTER_BYTES)
    try:
        pointer = FallbackPointer.model_validate_json(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "document" for e in exc.errors()[:3])
        raise LoadError(f"{pointer_path(model_name)} is malformed ({fields})") from None
    if pointer.model_name != model_name or not pointer.blob.startswith(f"{model_name}/") \
            or ".." in pointer.blob:
        raise LoadError(f"{pointer_path(model_name)} points outside {model_name}/")
    return pointer


def load(settings: Settings, model_name: str) -> LoadedModel:
    pointer = read_pointer(settings, model_name)
    data = _download(settings, pointer.blob, MAX_MODEL_BYTES)
    artifacts.verify_digest(data, pointer.sha256)
    trusted = set(pointer.trusted_types) | set(settings.skops_trusted_types)
    obj = artifacts.deserialize(data, pointer.format, trusted=trusted, allow_pickle=settings.allow_pickle)
    actual_class = class_path(obj)
    if actual_class != pointer.model_class:
        raise LoadError(
            f"the blob holds a {actual_class}, but the pointer says {pointer.model_class}; refused"
        )
    from app.model_loading.registry import sklearn_predictor

    schema = InputSchema.from_dict(pointer.input_schema) if pointer.input_schema else None
    return LoadedModel(
        name=model_name, version=pointer.version, source="blob_fallback",
        uri=f"blob://{settings.fallback_container}/{pointer.blob}",
        predict_fn=sklearn_predictor(obj), schema=schema, signature=pointer.signature,
        run_id=pointer.run_id, sha256=pointer.sha256, model_class=actual_class,
        metrics=pointer.metrics,
    )


def publish(settings: Settings, model: LoadedModel, data: bytes, fmt: str,
            trusted_types: list[str]) -> FallbackPointer:
    """Upload the model bytes, then the pointer (so readers never see a dangling pointer)."""
    if fmt not in artifacts.FORMATS:
        raise ValueError(f"format must be one of {artifacts.FORMATS}")
    name = model.name
    suffix = "skops" if fmt == artifacts.SKOPS else "pkl"
    blob = f"{name}/{model.version}/model.{suffix}"
    pointer = FallbackPointer(
        model_name=name, version=str(model.version), blob=blob,
        sha256=artifacts.sha256_hex(data), size_bytes=len(data), format=fmt,
        model_class=model.model_class or "", trusted_types=sorted(trusted_types),
        signature=model.signature,
        input_schema=model.schema.to_dict() if model.schema else None,
        run_id=model.run_id, source_uri=model.uri, metrics=model.metrics,
        created_at=datetime.now(UTC).isoformat(),
    )
    client = container(settings, settings.fallback_container, timeout=30)
    if not client.exists():
        client.create_container()
    client.upload_blob(blob, data, overwrite=True)
    client.upload_blob(pointer_path(name), json.dumps(pointer.model_dump(), indent=2).encode(),
                       overwrite=True)
    return pointer
