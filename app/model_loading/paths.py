"""Artifact paths are confined to their model directory (review finding F5)."""

from __future__ import annotations

import re

from app.model_loading.types import LoadError

_SEGMENT = re.compile(r"[A-Za-z0-9._\-][A-Za-z0-9._\- +=@]*")
MAX_PATH_CHARS = 512


def confined(path: object, *, what: str = "artifact path") -> str:
    """``path`` as a normalized relative posix path inside the model directory, or LoadError.

    Refuses absolute paths, ``..`` and ``.`` segments, backslashes, drive letters, empty
    segments and control characters, so no source (MLmodel, a pointer, a signature) can name
    a file outside the directory it was downloaded into."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH_CHARS:
        raise LoadError(f"the {what} is missing or too long")
    segments = path.split("/")
    if path.startswith("/") or any(s in ("", ".", "..") or not _SEGMENT.fullmatch(s) for s in segments):
        raise LoadError(f"the {what} is not a plain relative path inside the model directory")
    return path
