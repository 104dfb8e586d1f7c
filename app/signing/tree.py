"""The file digests of a model directory, as the model-signing "files" serialization sees it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.signing.bundle import IGNORE_PATHS

_CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def digest_tree(root: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` for every regular file under ``root``.

    Symbolic links are refused (as ``model_signing`` does by default): a link could make
    the signer vouch for a file outside the model."""
    files: dict[str, str] = {}
    ignored = {root / name for name in IGNORE_PATHS}
    for path in sorted(root.rglob("*")):
        if any(path == i or i in path.parents for i in ignored):
            continue
        if path.is_symlink():
            raise ValueError(f"{path.relative_to(root)} is a symbolic link; refusing to sign it")
        if path.is_file():
            files[path.relative_to(root).as_posix()] = file_sha256(path)
    if not files:
        raise ValueError(f"{root} holds no files to sign")
    return files
