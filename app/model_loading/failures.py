"""Any exception from a model source, as a short operator-safe ``LoadError`` (credentials
redacted), classified as "did not answer" (``UnreachableError``) or "answered no"."""

from __future__ import annotations

from app.model_loading.types import LoadError, UnreachableError
from app.redact import redact

_UNREACHABLE_MARKERS = (
    "ConnectionError",
    "Connection refused",
    "Max retries exceeded",
    "timed out",
    "Timeout",
    "NewConnectionError",
    "RemoteDisconnected",
    "API request to",
)


def is_unreachable(exc: BaseException) -> bool:
    """True when the error means the server did not answer, rather than said no."""
    if isinstance(exc, UnreachableError):
        return True
    if isinstance(exc, LoadError):
        return False
    text = f"{type(exc).__name__}: {exc}"
    return any(m in text for m in _UNREACHABLE_MARKERS) and "RESOURCE_DOES_NOT_EXIST" not in text


def as_load_error(exc: BaseException) -> LoadError:
    if isinstance(exc, LoadError):
        return type(exc)(redact(str(exc)))
    text = redact(short(exc))
    if is_unreachable(exc):
        return UnreachableError(f"registry unreachable: {text}")
    return LoadError(text)


def short(exc: BaseException) -> str:
    message = str(getattr(exc, "message", "") or exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message[:300]}"
