"""The loading chain: MODEL_URI > registry name+version/stage/alias > run id > latest run by
name > blob fallback. Every attempt is recorded; the registry part shares one deadline.

Every source goes through the same load path (``loader``): a source that is unsigned,
badly signed or tampered fails its attempt with the reason, and the chain moves on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial

from app.deadline import DeadlineExceeded, call_with_deadline
from app.model_loading import fetch_blob, loader, refs
from app.model_loading.failures import as_load_error
from app.model_loading.types import LoadAttempt, LoadedModel, Resolved, UnreachableError
from app.redact import redact
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ChainResult:
    model: LoadedModel | None
    attempts: list[LoadAttempt] = field(default_factory=list)
    registry_reachable: bool | None = None

    @property
    def reason(self) -> str:
        failed = [a for a in self.attempts if a.outcome == "failed"]
        if not failed:
            return "no model source is configured"
        return "; ".join(f"{a.source}: {a.error}" for a in failed)


def load_chain(settings: Settings) -> ChainResult:
    result = ChainResult(model=None)
    try:
        configured = refs.configured(settings)
    except ValueError as exc:
        result.attempts.append(LoadAttempt("model_uri", None, "failed", str(exc)))
        configured = [(label, ref) for label, ref in _without_uri(settings)]
    deadline = time.monotonic() + settings.registry_timeout_seconds
    for source, ref in configured:
        uri = redact(ref.uri)
        if result.registry_reachable is False:
            result.attempts.append(LoadAttempt(source, uri, "skipped", "registry unreachable"))
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            result.attempts.append(LoadAttempt(source, uri, "skipped", "registry deadline spent"))
            continue
        started = time.monotonic()
        resolved: Resolved | None = None
        try:
            resolved = call_with_deadline(
                partial(loader.resolve, settings, ref), remaining, name=f"resolve-{source}"
            )
            result.registry_reachable = True
            model = call_with_deadline(
                partial(loader.load, settings, resolved),
                settings.model_download_timeout_seconds,
                name=f"load-{source}",
            )
        except DeadlineExceeded as exc:
            if resolved is None:
                result.registry_reachable = False
                error = f"registry timed out after {settings.registry_timeout_seconds:.1f}s"
            else:
                error = f"model download/load {exc}"
            _record(result, source, uri, started, error)
            continue
        except Exception as exc:  # noqa: BLE001 - every failure becomes an attempt record
            failure = as_load_error(exc)
            if isinstance(failure, UnreachableError):
                result.registry_reachable = False
            elif result.registry_reachable is None:
                result.registry_reachable = True
            _record(result, source, uri, started, str(failure))
            continue
        result.registry_reachable = True
        result.model = model
        _record(result, source, uri, started, None)
        return result
    if settings.fallback_enabled and settings.model_name:
        _try_fallback(settings, result)
    return result


def _without_uri(settings: Settings) -> list[tuple[str, refs.ModelRef]]:
    return refs.configured(settings.model_copy(update={"model_uri": None}))


def load_fallback(settings: Settings) -> LoadedModel:
    """The blob fallback's model, through the same load path as the registry's."""
    resolved = fetch_blob.resolve(settings, settings.model_name)
    return loader.load(settings, resolved)


def _try_fallback(settings: Settings, result: ChainResult) -> None:
    uri = fetch_blob.uri(settings, settings.model_name)
    if not settings.has_storage:
        result.attempts.append(LoadAttempt("blob_fallback", uri, "skipped", "no storage configured"))
        return
    started = time.monotonic()
    try:
        budget = max(settings.registry_timeout_seconds, 5.0)
        result.model = call_with_deadline(lambda: load_fallback(settings), budget, name="load-blob")
    except DeadlineExceeded:
        _record(result, "blob_fallback", uri, started, "blob storage timed out")
    except Exception as exc:  # noqa: BLE001
        _record(result, "blob_fallback", uri, started, str(as_load_error(exc)))
    else:
        _record(result, "blob_fallback", uri, started, None)


def _record(result: ChainResult, source: str, uri: str, started: float, error: str | None) -> None:
    attempt = LoadAttempt(
        source=source,
        uri=uri,
        outcome="failed" if error else "loaded",
        error=error,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
    result.attempts.append(attempt)
    if error:
        log.warning("model source %s (%s) failed: %s", source, uri, error)
    else:
        log.info("model loaded from %s (%s) in %.0f ms", source, uri, attempt.duration_ms)
