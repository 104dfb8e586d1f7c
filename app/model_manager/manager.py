"""The model manager: a holder, one job queue, a scheduler, and what they report.

- Every load goes through one queue (``jobs``): the initial load, reloads and refreshes run
  one at a time, and identical waiting requests share one run (single-flight), however
  many first requests, webhooks or reload calls arrive together.
- The holder swaps by compare-and-set: a job replaces the model only if the one it started
  from is still current, or what it loaded is newer; readers take ``current`` once and
  finish on that model.
- The scheduler retries with backoff while nothing is served, refreshes every
  ``MODEL_REFRESH_SECONDS`` and at once when woken. Nothing depends on lifespan shutdown,
  which the Functions shim does not run reliably.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future

from app.model_loading import artifacts, flavors
from app.model_loading.chain import ChainResult
from app.model_loading.failures import as_load_error, is_unreachable
from app.model_loading.types import LoadAttempt, LoadedModel
from app.model_manager.holder import ModelHolder
from app.model_manager.jobs import JobQueue
from app.model_manager.scheduler import Scheduler
from app.model_manager.source import ChainSource, ModelSource
from app.model_manager.state import FallbackState, ManagerState, ManagerStats
from app.settings import Settings

log = logging.getLogger(__name__)


class ModelManager:
    def __init__(self, settings: Settings, source: ModelSource | None = None) -> None:
        self.settings = settings
        self.source: ModelSource = source or ChainSource(settings)
        self.state = ManagerState()
        self.started_monotonic = time.monotonic()
        self._holder = ModelHolder()
        self._jobs = JobQueue()
        self._initial: Future[ChainResult] | None = None
        self._start_lock = threading.Lock()
        self._scheduler = Scheduler(
            settings,
            has_model=lambda: self.current is not None,
            retry=self._retry,
            refresh=self.refresh_once,
            after_tick=self.check_fallback,
        )

    # --- reading -----------------------------------------------------------------------
    @property
    def current(self) -> LoadedModel | None:
        return self._holder.current

    @property
    def loading(self) -> bool:
        return self._jobs.busy

    @property
    def stats(self) -> ManagerStats:
        return self.state.stats

    @property
    def attempts(self) -> list[LoadAttempt]:
        return self.state.attempts

    @property
    def registry_reachable(self) -> bool | None:
        return self.state.registry_reachable

    @property
    def registry_checked_at(self) -> float | None:
        return self.state.registry_checked_at

    @property
    def unavailable_reason(self) -> str:
        return self.state.unavailable_reason

    @property
    def fallback(self) -> FallbackState:
        return self.state.fallback

    @property
    def fallback_in_sync(self) -> bool | None:
        """Whether the blob fallback holds the served version (None while unknown)."""
        current = self.current
        if current is None or self.fallback.version is None:
            return None
        return current.version == self.fallback.version

    # --- loading -----------------------------------------------------------------------
    def start(self) -> Future[ChainResult]:
        """Queue the initial load once; every caller gets the same future."""
        with self._start_lock:
            if self._initial is None:
                self._initial = self._jobs.submit("initial", self._chain_job)
                # Runs at once when the load already finished: the scheduler's own lock,
                # not this one, guards its start.
                self._initial.add_done_callback(lambda _: self._scheduler.start())
            return self._initial

    def preload(self) -> Future[ChainResult]:
        """``start()``, then import the deserializer on this thread while the load waits on
        the registry: a cold start pays for the slower of the two, not their sum."""
        initial = self.start()
        if self.settings.model_flavor == "sklearn":
            # skops (all of scikit-learn), then the signature verifier. Called from here, not
            # through flavors.warm_up: through that function the scikit-learn sample's cold
            # start measured ~200 ms slower (interleaved shim A/B, 12-16 pairs, three
            # variants; the cause is not understood). See docs/benchmarks.md.
            artifacts.import_deserializer()
            flavors.warm_up_signatures()
        else:
            flavors.warm_up(self.settings.model_flavor)  # MODEL_FLAVOR's library
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
        """Run the whole chain again (queued); swap only if it yields a model."""
        return self._jobs.submit("reload", self._chain_job)

    def trigger_refresh(self) -> None:
        """Ask the scheduler to re-resolve the model now (e.g. from a webhook)."""
        self._scheduler.wake()

    def refresh_once(self) -> bool:
        """Re-resolve the tracked reference; load and swap if it names a new version.

        Runs as a queued job; returns True when a new model was swapped in. Failures are
        logged and counted, never raised: the loaded model keeps serving."""
        return bool(self._jobs.submit("refresh", self._refresh_job).result())

    def close(self) -> None:
        self._scheduler.stop()

    def check_fallback(self) -> None:
        """Read which version the fallback pointer names (never raises; best effort)."""
        try:
            version = self.source.fallback_version()
        except Exception as exc:  # noqa: BLE001 - reported in /health, never fatal
            self.state.fallback = FallbackState(None, time.time(), str(as_load_error(exc)))
            return
        if version is None:
            return
        self.state.fallback = FallbackState(version, time.time(), None)
        if self.fallback_in_sync is False:
            log.warning(
                "the blob fallback holds version %s, but version %s is served",
                version,
                self.current.version if self.current else None,
            )

    # --- jobs (run on the queue's thread, one at a time) ---------------------------------
    def _chain_job(self) -> ChainResult:
        started_from = self.current
        try:
            result = self.source.load_chain()
        except Exception as exc:
            log.exception("model loader crashed")
            result = ChainResult(
                model=None, attempts=[LoadAttempt("chain", None, "failed", f"{type(exc).__name__}: {exc}")]
            )
        state = self.state
        state.attempts = result.attempts
        if result.registry_reachable is not None:
            state.mark_registry(result.registry_reachable)
        if result.model is not None:
            state.stats.loads += 1
            if result.model.source == "blob_fallback":
                state.stats.fallback_loads += 1
            self._swap(result.model, started_from)
        else:
            state.stats.load_failures += 1
            state.unavailable_reason = result.reason
            if self.current is not None:
                log.error("reload failed, still serving version %s: %s", self.current.version, result.reason)
            else:
                log.error("no model could be loaded: %s", result.reason)
        return result

    def _refresh_job(self) -> bool:
        self.stats.refreshes += 1
        started_from = self.current
        ref = self.source.tracked()
        if ref is None:
            if started_from is None or started_from.source == "blob_fallback":
                result = self._chain_job()
                return result.model is not None and result.model.source == "registry"
            return False
        try:
            resolved = self.source.resolve(ref)
            self.state.mark_registry(True)
            if started_from is not None and resolved.version == started_from.version:
                return False
            model = self.source.load(resolved)
        except Exception as exc:  # noqa: BLE001 - the loaded model keeps serving
            failure = as_load_error(exc)
            unreachable = is_unreachable(exc) or isinstance(exc, TimeoutError)
            self._refresh_failed(
                str(failure) if not isinstance(exc, TimeoutError) else "registry timed out",
                unreachable=unreachable,
            )
            return False
        return self._swap(model, started_from)

    def _retry(self) -> bool:
        return self.reload().result().model is not None

    def _swap(self, model: LoadedModel, started_from: LoadedModel | None) -> bool:
        swapped = self._holder.swap(model, expected=started_from)
        if swapped:
            self.stats.swaps += 1
        return swapped

    def _refresh_failed(self, error: str, *, unreachable: bool) -> None:
        self.stats.refresh_failures += 1
        self.stats.last_refresh_error = error
        if unreachable:
            self.state.mark_registry(False)
        log.warning("model refresh failed (still serving the loaded model): %s", error)
