"""When to load: retry with backoff while nothing is served, refresh every period, and at
once when woken (a webhook, a promotion through the API)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.settings import Settings

# The first after-tick (the fallback pointer check: importing the blob client costs ~0.25 s
# of CPU) waits this long, so it never competes with a cold start's first requests.
FIRST_TICK_DELAY_SECONDS = 3.0


class Scheduler:
    """A daemon thread that calls back into the manager; it never loads anything itself.

    ``retry()`` runs one full-chain load and returns whether a model is now served;
    ``refresh()`` follows the tracked reference; ``after_tick()`` runs after each step."""

    def __init__(
        self,
        settings: Settings,
        *,
        has_model: Callable[[], bool],
        retry: Callable[[], bool],
        refresh: Callable[[], object],
        after_tick: Callable[[], object],
    ) -> None:
        self._settings = settings
        self._has_model = has_model
        self._retry = retry
        self._refresh = refresh
        self._after_tick = after_tick
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="model-refresh", daemon=True)
            self._thread.start()
            first = threading.Timer(FIRST_TICK_DELAY_SECONDS, self._first_tick)
            first.daemon = True
            first.start()

    def _first_tick(self) -> None:
        if not self._stop.is_set():
            self._after_tick()

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _wait(self, seconds: float | None) -> bool:
        woken = self._wake.wait(seconds)
        self._wake.clear()
        return woken

    def _run(self) -> None:
        settings = self._settings
        backoff = settings.retry_initial_seconds
        while not self._stop.is_set():
            if not self._has_model():
                woken = self._wait(backoff)
                if self._stop.is_set():
                    return
                if not self._retry() and not woken:
                    backoff = min(backoff * 2, settings.retry_max_seconds)
                continue
            backoff = settings.retry_initial_seconds
            interval = settings.model_refresh_seconds
            woken = self._wait(interval if interval > 0 else None)
            if self._stop.is_set():
                return
            if woken or interval > 0:
                self._refresh()
                self._after_tick()
