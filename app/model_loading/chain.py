"""The loading chain: MODEL_URI > registry name+version/stage/alias > run id > latest run by
name > blob fallback. Every attempt is recorded; the registry part shares one deadline."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.deadline import DeadlineExceeded, call_with_deadline
from app.model_loading import blob_fallback, registry
from app.model_loading.types import LoadAttempt, LoadedModel, LoadError, UnreachableError
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


Step = tuple[str, str, Callable[[], registry.Resolved]]


def registry_steps(settings: Settings) -> list[Step]:
    """(source, uri, resolve) for each configured registry source, in priority order.

    Resolving (metadata calls) shares the REGISTRY_TIMEOUT_SECONDS budget, which is what
    detects a dead or hung registry; downloading the resolved version then gets its own
    MODEL_DOWNLOAD_TIMEOUT_SECONDS budget.
    """
    steps: list[Step] = []
    if settings.model_uri:
        ref = registry.parse_uri(settings.model_uri)
        steps.append(("model_uri", ref.uri, lambda: registry.resolve(settings, ref)))
    if settings.use_mlflow_registry and settings.model_name:
        name = settings.model_name
        if settings.model_version:
            ref_v = registry.ModelRef("version", name, settings.model_version)
        elif settings.model_stage:
            ref_v = registry.ModelRef("stage", name, settings.model_stage.capitalize())
        elif settings.model_alias:
            ref_v = registry.ModelRef("alias", name, settings.model_alias)
        else:
            ref_v = registry.ModelRef("latest", name, "latest")
        steps.append(("registry", ref_v.uri, lambda: registry.resolve(settings, ref_v)))
    if settings.model_run_id:
        ref_r = registry.ModelRef("run", settings.model_run_id, settings.model_artifact_path)
        steps.append(("run_id", ref_r.uri, lambda: registry.resolve(settings, ref_r)))
    if settings.model_run_name:
        run_name = settings.model_run_name

        def by_run_name() -> registry.Resolved:
            run_id = registry.latest_run_with_name(settings, run_name)
            ref_n = registry.ModelRef("run", run_id, settings.model_artifact_path)
            return registry.resolve(settings, ref_n)

        steps.append(("run_name", f"run_name={run_name}", by_run_name))
    return steps


def load_chain(settings: Settings) -> ChainResult:
    registry.configure_mlflow_client(settings)
    result = ChainResult(model=None)
    try:
        steps = registry_steps(settings)
    except ValueError as exc:
        result.attempts.append(LoadAttempt("model_uri", settings.model_uri, "failed", str(exc)))
        steps = []
    deadline = time.monotonic() + settings.registry_timeout_seconds
    for source, uri, resolve in steps:
        if result.registry_reachable is False:
            result.attempts.append(LoadAttempt(source, uri, "skipped", "registry unreachable"))
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            result.attempts.append(LoadAttempt(source, uri, "skipped", "registry deadline spent"))
            continue
        started = time.monotonic()
        resolved: registry.Resolved | None = None
        try:
            resolved = call_with_deadline(resolve, remaining, name=f"resolve-{source}")
            result.registry_reachable = True
            model = call_with_deadline(lambda r=resolved: registry.load_resolved(settings, r),
                                       settings.model_download_timeout_seconds,
                                       name=f"load-{source}")
        except DeadlineExceeded as exc:
            if resolved is None:
                result.registry_reachable = False
                error = f"registry timed out after {settings.registry_timeout_seconds:.1f}s"
            else:
                error = f"model download/load {exc}"
            _record(result, source, uri, started, error)
            continue
        except Exception as exc:  # noqa: BLE001 - every failure becomes an attempt record
            error = registry.wrap_error(exc)
            if isinstance(error, UnreachableError):
                result.registry_reachable = False
            elif result.registry_reachable is None:
                result.registry_reachable = True
            _record(result, source, uri, started, str(error))
            continue
        result.registry_reachable = True
        result.model = model
        _record(result, source, uri, started, None)
        return result
    if settings.fallback_enabled and settings.model_name:
        _try_fallback(settings, result)
    return result


def _try_fallback(settings: Settings, result: ChainResult) -> None:
    uri = f"blob://{settings.fallback_container}/{blob_fallback.pointer_path(settings.model_name)}"
    if not settings.has_storage:
        result.attempts.append(LoadAttempt("blob_fallback", uri, "skipped", "no storage configured"))
        return
    started = time.monotonic()
    try:
        budget = max(settings.registry_timeout_seconds, 5.0)
        result.model = call_with_deadline(
            lambda: blob_fallback.load(settings, settings.model_name), budget, name="load-blob"
        )
    except DeadlineExceeded:
        _record(result, "blob_fallback", uri, started, "blob storage timed out")
    except LoadError as exc:
        _record(result, "blob_fallback", uri, started, str(exc))
    except Exception as exc:  # noqa: BLE001
        _record(result, "blob_fallback", uri, started, f"{type(exc).__name__}: {str(exc)[:200]}")
    else:
        _record(result, "blob_fallback", uri, started, None)


def _record(result: ChainResult, source: str, uri: str, started: float, error: str | None) -> None:
    attempt = LoadAttempt(
        source=source, uri=uri, outcome="failed" if error else "loaded", error=error,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
    result.attempts.append(attempt)
    if error:
        log.warning("model source %s (%s) failed: %s", source, uri, error)
    else:
        log.info("model loaded from %s (%s) in %.0f ms", source, uri, attempt.duration_ms)
