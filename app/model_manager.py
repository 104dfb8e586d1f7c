"""Holds the serving model and replaces it safely.

- One load at a time (single-flight): however many first requests arrive together, and
  however often the shim runs the lifespan, the chain runs once and all wait on it.
- Swaps are atomic: a request reads ``manager.current`` once and finishes on that model.
- A background thread retries with backoff while no model is loaded, re-resolves the
  alias/stage every ``MODEL_REFRESH_SECONDS``, and refreshes at once when woken (webhook).
  Nothing depends on lifespan shutdown, which the Functions shim does not run reliably.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from app.deadline import DeadlineExceeded, call_with_deadline
from app.model_loading import fetch_blob, fetch_mlflow, flavors, loader, refs
from app.model_loading.chain import ChainResult, load_chain
from app.model_loading.failures import as_load_error, is_unreachable
from app.model_loading.types import LoadAttempt, LoadedModel
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class FallbackState:
    """Which version the blob fallback holds, as last read from its pointer."""

    version: str | None = None
    checked_at: float | None = None
    error: str | None = None


@dataclass
class ManagerStats:
    loads: int = 0
    load_failures: int = 0
    swaps: int = 0
    refreshes: int = 0
    refresh_failures: int = 0
    fallback_loads: int = 0
    last_refresh_error: str | None = None
    swap_history: list[dict[str, Any]] = field(default_factory=list)


class ModelManager:
    def __init__(self, settings: Settings, loader: Any = load_chain) -> None:
        self.settings = settings
        self._loader = loader
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self._inflight: Future[ChainResult] | None = None
        self._initial: Future[ChainResult] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.attempts: list[LoadAttempt] = []
        self.registry_reachable: bool | None = None
        self.registry_checked_at: float | None = None
        self.unavailable_reason: str = "the model is loading"
        self.stats = ManagerStats()
        self.fallback = FallbackState()
        self.started_monotonic = time.monotonic()
        fetch_mlflow.configure(settings)  # MLflow's HTTP bounds and pickle switch, once

    # --- reading -----------------------------------------------------------------------
    @property
    def current(self) -> LoadedModel | None:
        return self._current

    @property
    def loading(self) -> bool:
        future = self._inflight
        return future is not None and not future.done()

    @property
    def fallback_in_sync(self) -> bool | None:
        """Whether the blob fallback holds the served version (None while unknown)."""
        current = self._current
        if current is None or self.fallback.version is None:
            return None
        return current.version == self.fallback.version

    # --- loading -----------------------------------------------------------------------
    def start(self) -> Future[ChainResult]:
        """Begin the initial load once; every caller gets the same future."""
        with self._lock:
            initial = self._initial
            created = initial is None
            if initial is None:
                initial = self._initial = self._submit_locked()
        if created:
            # Outside the lock: when the load has already finished, the callback runs right
            # here, and _start_background takes the (non-reentrant) lock itself.
            initial.add_done_callback(lambda _: self._start_background())
        return initial

    def preload(self) -> Future[ChainResult]:
        """``start()``, then import the deserializer on this thread while the load waits on
        the registry: a cold start pays for the slower of the two, not their sum."""
        initial = self.start()
        flavors.warm_up(self.settings.model_flavor)  # MODEL_FLAVOR's library (default: skops)
        return initial

    async def wait_initial(self, timeout: float) -> None:
        future = self.start()
        if future.done() or timeout <= 0:
            return
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        except (TimeoutError, Exception):  # noqa: BLE001 - state is reported elsewhere
            return

    def reload(self) -> Future[ChainResult]:
        """Run the whole chain again (single-flight); swap only if it yields a model."""
        with self._lock:
            if self._inflight is not None and not self._inflight.done():
                return self._inflight
            return self._submit_locked()

    def _submit_locked(self) -> Future[ChainResult]:
        future: Future[ChainResult] = Future()
        self._inflight = future

        def run() -> None:
            try:
                result = self._loader(self.settings)
            except Exception as exc:
                log.exception("model loader crashed")
                result = ChainResult(model=None, attempts=[
                    LoadAttempt("chain", None, "failed", f"{type(exc).__name__}: {exc}")])
            self._apply(result)
            future.set_result(result)

        threading.Thread(target=run, name="model-load", daemon=True).start()
        return future

    def _apply(self, result: ChainResult) -> None:
        self.attempts = result.attempts
        if result.registry_reachable is not None:
            self._mark_registry(result.registry_reachable)
        if result.model is not None:
            self.stats.loads += 1
            if result.model.source == "blob_fallback":
                self.stats.fallback_loads += 1
            self.swap(result.model)
        else:
            self.stats.load_failures += 1
            self.unavailable_reason = result.reason
            if self._current is not None:
                log.error("reload failed, still serving version %s: %s",
                          self._current.version, result.reason)
            else:
                log.error("no model could be loaded: %s", result.reason)

    def swap(self, model: LoadedModel) -> None:
        previous = self._current
        self._current = model  # a single reference assignment: atomic for readers
        self.stats.swaps += 1
        self.stats.swap_history.append({"version": model.version, "source": model.source,
                                        "at": model.loaded_at})
        del self.stats.swap_history[:-50]
        log.info("serving model %s version %s from %s (was %s)", model.name, model.version,
                 model.source, previous.version if previous else None)

    def _mark_registry(self, reachable: bool) -> None:
        self.registry_reachable = reachable
        self.registry_checked_at = time.time()

    # --- background refresh --------------------------------------------------------------
    def trigger_refresh(self) -> None:
        """Ask the background thread to re-resolve the model now (e.g. from a webhook)."""
        self._start_background()
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()

    def _start_background(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._background, name="model-refresh",
                                            daemon=True)
            self._thread.start()

    def check_fallback(self) -> None:
        """Read which version the fallback pointer names (never raises; best effort)."""
        settings = self.settings
        if not (settings.fallback_enabled and settings.has_storage and settings.model_name):
            return
        try:
            pointer = call_with_deadline(
                lambda: fetch_blob.read_pointer(settings, settings.model_name),
                max(settings.registry_timeout_seconds, 5.0), "fallback-pointer")
            self.fallback = FallbackState(pointer.version, time.time(), None)
        except Exception as exc:  # noqa: BLE001 - reported in /health, never fatal
            self.fallback = FallbackState(None, time.time(), str(as_load_error(exc)))
        if self.fallback_in_sync is False:
            log.warning("the blob fallback holds version %s, but version %s is served",
                        self.fallback.version, self._current.version if self._current else None)

    def _background(self) -> None:
        backoff = self.settings.retry_initial_seconds
        self.check_fallback()
        while not self._stop.is_set():
            if self._current is None:
                woken = self._wake.wait(backoff)
                self._wake.clear()
                if self._stop.is_set():
                    return
                result = self.reload().result()
                if result.model is None and not woken:
                    backoff = min(backoff * 2, self.settings.retry_max_seconds)
                continue
            backoff = self.settings.retry_initial_seconds
            interval = self.settings.model_refresh_seconds
            woken = self._wake.wait(interval if interval > 0 else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            if woken or interval > 0:
                self.refresh_once()
                self.check_fallback()

    def refresh_once(self) -> bool:
        """Re-resolve the configured reference; load and swap if it names a new version.

        Returns True when a new model was swapped in. Failures are logged and counted,
        never raised: the loaded model keeps serving.
        """
        self.stats.refreshes += 1
        current = self._current
        ref = refs.tracked(self.settings)
        try:
            if ref is None:
                if current is None or current.source == "blob_fallback":
                    return self._reload_blocking()
                return False
            resolved = call_with_deadline(lambda: loader.resolve(self.settings, ref),
                                          self.settings.registry_timeout_seconds, "refresh")
            self._mark_registry(True)
            if current is not None and resolved.version == current.version:
                return False
            model = call_with_deadline(lambda: loader.load(self.settings, resolved),
                                       self.settings.model_download_timeout_seconds,
                                       "refresh-load")
        except DeadlineExceeded:
            self._refresh_failed("registry timed out", unreachable=True)
            return False
        except Exception as exc:  # noqa: BLE001
            self._refresh_failed(str(as_load_error(exc)), unreachable=is_unreachable(exc))
            return False
        self.swap(model)
        return True

    def _reload_blocking(self) -> bool:
        result = self.reload().result()
        return result.model is not None and result.model.source == "registry"

    def _refresh_failed(self, error: str, *, unreachable: bool) -> None:
        self.stats.refresh_failures += 1
        self.stats.last_refresh_error = error
        if unreachable:
            self._mark_registry(False)
        log.warning("model refresh failed (still serving the loaded model): %s", error)
