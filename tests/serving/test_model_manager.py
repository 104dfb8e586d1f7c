"""The model manager's start-up is race-free, however fast the first load finishes.

A load that ends before ``start()`` registers its completion callback (no source configured,
a registry that refuses at once) used to run that callback under the manager's own lock and
deadlock the worker's first request. The loader here is the manager's injection point for
the chain; it returns at once so the race is hit on nearly every round.
"""

from __future__ import annotations

import threading
import time

from app.model_loading.chain import ChainResult, LoadAttempt
from app.model_manager import ModelManager
from app.settings import Settings

ROUNDS = 200


def _settings() -> Settings:
    return Settings(use_mlflow_registry=False, fallback_enabled=False,
                    retry_initial_seconds=0.05, retry_max_seconds=0.1, model_refresh_seconds=0)


def _instant_failure(_: Settings) -> ChainResult:
    return ChainResult(model=None, attempts=[LoadAttempt("registry", None, "failed", "refused")])


def test_start_never_deadlocks_when_the_load_finishes_first() -> None:
    settings = _settings()
    for round_no in range(ROUNDS):
        manager = ModelManager(settings, loader=_instant_failure)
        caller = threading.Thread(target=manager.start, daemon=True)
        caller.start()
        caller.join(timeout=5)
        manager.close()
        assert not caller.is_alive(), f"start() deadlocked in round {round_no + 1}"


def test_a_failed_first_load_is_retried_in_the_background() -> None:
    calls: list[float] = []

    def loader(settings: Settings) -> ChainResult:
        calls.append(time.monotonic())
        return _instant_failure(settings)

    manager = ModelManager(_settings(), loader=loader)
    try:
        assert manager.start().result(timeout=5).model is None
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(calls) >= 3, "the refresh thread did not retry the failed load"
        assert manager.stats.load_failures >= 3 and manager.current is None
        assert manager.start() is manager.start(), "start() must stay single-flight"
    finally:
        manager.close()
