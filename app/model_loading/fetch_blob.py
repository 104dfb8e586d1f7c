"""The copy of a signed model kept in Blob Storage for when the registry cannot serve one.

Layout in the fallback container, per model::

    <model_name>/<version>/<file>...      every signed file of the version's model directory
    <model_name>/<version>/model.sig      the signature bundle, as in the registry
    <model_name>/current.json             which version to try (nothing else is believed)

The pointer only says which version to try. Digests, format and trusted types come from
the signature, which must verify against the operator's keys and name this model and this
version; a container writer can therefore only point at another version the operator
signed (README "Trust model").
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from app.model_loading.types import LoadError, Resolved, UnreachableError
from app.settings import Settings
from app.signing.bundle import MAX_BUNDLE_BYTES, SIGNATURE_FILE
from app.storage import container

POINTER_NAME = "current.json"
POINTER_SCHEMA = 2
MAX_POINTER_BYTES = 256 * 1024
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")


class FallbackPointer(BaseModel):
    """Contents of ``<model_name>/current.json``: informative, except for ``version``."""

    schema_version: int = Field(ge=POINTER_SCHEMA, le=POINTER_SCHEMA)
    model_name: str
    version: str = Field(pattern=_VERSION.pattern)
    files: list[str] = Field(default_factory=list)
    source_uri: str | None = None
    published_at: str


def pointer_path(model_name: str) -> str:
    return f"{model_name}/{POINTER_NAME}"


def uri(settings: Settings, model_name: str, version: str | None = None) -> str:
    tail = f"{model_name}/{version}" if version else pointer_path(model_name)
    return f"blob://{settings.fallback_container}/{tail}"


def _is_unreachable(exc: BaseException) -> bool:
    from azure.core.exceptions import (
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, ResourceNotFoundError):
        return False
    return isinstance(exc, (ServiceRequestError, ServiceResponseError, TimeoutError, OSError))


def download(settings: Settings, blob: str, limit: int, *, missing_ok: bool = False) -> bytes | None:
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        client = container(settings, settings.fallback_container).get_blob_client(blob)
        downloader = client.download_blob()
        if downloader.size > limit:
            raise LoadError(f"{blob} is {downloader.size} bytes, over the {limit}-byte limit")
        return downloader.readall()
    except ResourceNotFoundError:
        if missing_ok:
            return None
        raise LoadError(f"blob {settings.fallback_container}/{blob} does not exist") from None
    except AzureError as exc:
        message = f"blob storage error reading {blob}: {type(exc).__name__}"
        raise (UnreachableError(message) if _is_unreachable(exc) else LoadError(message)) from None


def read_pointer(settings: Settings, model_name: str) -> FallbackPointer:
    raw = download(settings, pointer_path(model_name), MAX_POINTER_BYTES)
    assert raw is not None
    try:
        document = json.loads(raw)
    except ValueError:
        raise LoadError(f"{pointer_path(model_name)} is malformed (not JSON)") from None
    if isinstance(document, dict) and document.get("schema_version", 1) < POINTER_SCHEMA:
        raise LoadError(
            f"{pointer_path(model_name)} was published before signatures; publish "
            "the version again with `python -m app publish-fallback`"
        )
    try:
        pointer = FallbackPointer.model_validate(document)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "document" for e in exc.errors()[:3])
        raise LoadError(f"{pointer_path(model_name)} is malformed ({fields})") from None
    if pointer.model_name != model_name:
        raise LoadError(f"{pointer_path(model_name)} names another model")
    return pointer


def resolve(settings: Settings, model_name: str) -> Resolved:
    pointer = read_pointer(settings, model_name)
    signature = download(
        settings, f"{model_name}/{pointer.version}/{SIGNATURE_FILE}", MAX_BUNDLE_BYTES, missing_ok=True
    )
    return Resolved(
        name=model_name,
        version=pointer.version,
        run_id=None,
        uri=uri(settings, model_name, pointer.version),
        source="blob_fallback",
        signature=signature or None,
    )


class BlobReader:
    def __init__(self, settings: Settings, model_name: str, version: str) -> None:
        self._settings = settings
        self._prefix = f"{model_name}/{version}/"

    def read(self, relative: str, limit: int) -> bytes:
        data = download(self._settings, self._prefix + relative, limit)
        assert data is not None
        return data


def publish(
    settings: Settings,
    model_name: str,
    version: str,
    files: dict[str, bytes],
    signature: bytes,
    *,
    source_uri: str | None = None,
) -> FallbackPointer:
    """Upload every file and the signature, then the pointer (readers never see a pointer
    to a version whose files are not all there)."""
    if not _VERSION.fullmatch(version):
        raise ValueError(f"version {version!r} cannot name a blob folder")
    client = container(settings, settings.fallback_container, timeout=30)
    if not client.exists():
        client.create_container()
    prefix = f"{model_name}/{version}/"
    for name, data in sorted(files.items()):
        client.upload_blob(prefix + name, data, overwrite=True)
    if signature:  # absent only for an unsigned copy (REQUIRE_SIGNED_MODELS=false)
        client.upload_blob(prefix + SIGNATURE_FILE, signature, overwrite=True)
    pointer = FallbackPointer(
        schema_version=POINTER_SCHEMA,
        model_name=model_name,
        version=version,
        files=sorted(files),
        source_uri=source_uri,
        published_at=datetime.now(UTC).isoformat(),
    )
    document: dict[str, Any] = pointer.model_dump()
    client.upload_blob(pointer_path(model_name), json.dumps(document, indent=2).encode(), overwrite=True)
    return pointer
