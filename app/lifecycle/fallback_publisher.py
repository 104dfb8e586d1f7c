"""Publish a registry version to the blob fallback: its signed files and its signature.

Nothing is deserialized and nothing is re-signed: the version's signature must verify
against the operator's keys, every file copied is checked against it, and the same bundle
is stored next to the copy, so instances verify the fallback exactly as they verify the
registry (a container writer cannot widen what was signed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.model_loading import fetch_blob, loader, trust
from app.model_loading.fetch_blob import FallbackPointer
from app.model_loading.refs import ModelRef
from app.model_loading.types import LoadError
from app.settings import Settings
from app.signing.tree import digest_tree

MAX_FILE_BYTES = 1024 * 1024 * 1024


class FallbackNotConfigured(ValueError):
    """Promotion would publish the fallback, but no storage is configured."""


def publish_version(settings: Settings, model_name: str, version: str) -> FallbackPointer:
    """Copy version ``version`` of ``model_name`` (files + signature) into the fallback."""
    if not settings.has_storage:
        raise FallbackNotConfigured(
            "no blob storage is configured (MODEL_STORAGE_ACCOUNT_URL or "
            "MODEL_STORAGE_CONNECTION_STRING), so the fallback cannot be published; "
            "pass --no-fallback to promote without it"
        )
    resolved = loader.resolve(settings, ModelRef("version", model_name, str(version)))
    manifest = trust.verify(settings, resolved)
    if manifest is None:  # REQUIRE_SIGNED_MODELS=false: copy the unsigned directory as is
        files = _unsigned_files(settings, model_name, str(version))
        signature = b""
    else:
        reader, _ = loader.reader(settings, resolved)
        checked = trust.ArtifactFiles(reader, manifest)
        files = {name: checked.read(name, MAX_FILE_BYTES) for name in checked.names}
        assert resolved.signature is not None
        signature = resolved.signature
    return fetch_blob.publish(settings, model_name, str(version), files, signature, source_uri=resolved.uri)


def _unsigned_files(settings: Settings, model_name: str, version: str) -> dict[str, bytes]:
    from app.lifecycle.signing import download, version_location

    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        local = download(settings, version_location(settings, model_name, version), Path(tmp))
        names = digest_tree(local)
        if "MLmodel" not in names:
            raise LoadError(f"version {version} of {model_name} has no MLmodel file")
        return {name: (local / name).read_bytes() for name in names}
