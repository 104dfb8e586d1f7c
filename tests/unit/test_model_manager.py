"""The model manager with a fake source: single-flight loads, compare-and-set swaps, no
stale refresh ever replacing a newer model, and background retries. Milliseconds each."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

from app.model_manager import ModelManager
from tests.unit.fakes import FakeSource, fake_settings, jitter


def _served_versions(caplog: pytest.LogCaptureFixture) -> list[int]:
    pattern = re.compile(r"serving model m version (\d+)")
    return [int(m.group(1)) for r in caplog.records if (m := pattern.search(r.getMessage()))]


def test_a_stale_refresh_never_replaces_what_a_reload_installed() -> None:
    """The race the old manager had: a refresh resolves v2 and is slow to load it; a reload
    meanwhile installs v3; the refresh then swapped v2 in (serving an older model than the
    registry names, until the next refresh)."""
    source = FakeSource("1")
    manager = ModelManager(fake_settings(), source)
    try:
        assert manager.start().result(5).model is not None
        source.target = "2"
        source.hold["2"] = threading.Event()
        refresh = threading.Thread(target=manager.refresh_once)
        refresh.start()
        assert source.loading.setdefault("2", threading.Event()).wait(5)
        source.target = "3"
        reload = manager.reload()  # queued behind the refresh: they never interleave
        source.hold["2"].set()
        refresh.join(5)
        assert reload.result(5).model is not None
        assert manager.current is not None and manager.current.version == "3"
    finally:
        manager.close()


def test_concurrent_reload_refresh_and_webhooks_never_go_backwards(caplog: pytest.LogCaptureFixture) -> None:
    """Many threads reload, refresh and wake the scheduler while the alias moves forward;
    the served version never decreases and ends at the alias' final version."""
    source = FakeSource("1", delay=jitter())
    manager = ModelManager(fake_settings(), source)
    caplog.set_level(logging.INFO, logger="app.model_manager.holder")
    stop = threading.Event()

    def mover() -> None:
        for version in range(2, 41):
            source.target = str(version)
            time.sleep(0.003)
        stop.set()

    def hammer(action: str) -> None:
        while not stop.is_set():
            if action == "reload":
                manager.reload()
            elif action == "refresh":
                manager.refresh_once()
            else:
                manager.trigger_refresh()
            time.sleep(0.001)

    try:
        manager.start().result(5)
        threads = [threading.Thread(target=mover)] + [
            threading.Thread(target=hammer, args=(action,))
            for action in ("reload", "reload", "refresh", "refresh", "webhook", "webhook")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        manager.refresh_once()  # settle: one more refresh after the last move
        served = _served_versions(caplog)
        assert served == sorted(served), f"the served version went backwards: {served}"
        assert manager.current is not None and manager.current.version == "40"
    finally:
        manager.close()


def test_concurrent_first_requests_share_one_load() -> None:
    source = FakeSource("1", delay=lambda: 0.05)
    manager = ModelManager(fake_settings(), source)
    try:
        futures: list[object] = []
        threads = [threading.Thread(target=lambda: futures.append(manager.start())) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert len({id(f) for f in futures}) == 1
        assert manager.start().result(5).model is not None
        assert source.chain_calls == 1 and manager.stats.loads == 1
    finally:
        manager.close()


def test_a_burst_of_reloads_while_one_runs_costs_one_more_load() -> None:
    source = FakeSource("1")
    manager = ModelManager(fake_settings(), source)
    try:
        manager.start().result(5)
        source.hold["1"] = threading.Event()
        source.loading.pop("1")
        running = manager.reload()
        assert source.loading.setdefault("1", threading.Event()).wait(5)
        waiting = {id(manager.reload()) for _ in range(20)}
        source.hold["1"].set()
        running.result(5)
        assert len(waiting) == 1
        time.sleep(0.05)
        assert source.chain_calls == 3  # initial, the running reload, one joined reload
    finally:
        manager.close()


def test_start_never_deadlocks_when_the_load_finishes_first() -> None:
    for round_no in range(200):
        manager = ModelManager(fake_settings(), FakeSource(fail=True))
        caller = threading.Thread(target=manager.start, daemon=True)
        caller.start()
        caller.join(timeout=5)
        manager.close()
        assert not caller.is_alive(), f"start() deadlocked in round {round_no + 1}"


def test_a_failed_first_load_is_retried_in_the_background() -> None:
    source = FakeSource(fail=True)
    manager = ModelManager(fake_settings(), source)
    try:
        assert manager.start().result(timeout=5).model is None
        deadline = time.monotonic() + 10
        while source.chain_calls < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert source.chain_calls >= 3, "the scheduler did not retry the failed load"
        assert manager.stats.load_failures >= 3 and manager.current is None
        assert "refused" in manager.unavailable_reason
        source.fail = False
        while manager.current is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert manager.current is not None, "the retry never recovered"
        assert manager.start() is manager.start(), "start() must stay single-flight"
    finally:
        manager.close()


def test_a_failed_refresh_keeps_serving_and_counts() -> None:
    source = FakeSource("1")
    manager = ModelManager(fake_settings(), source)
    try:
        manager.start().result(5)
        source.fail = True
        assert manager.refresh_once() is False
        assert manager.current is not None and manager.current.version == "1"
        assert manager.stats.refresh_failures == 1 and manager.stats.last_refresh_error
    finally:
        manager.close()


def test_holder_refuses_a_stale_swap_but_takes_a_newer_one() -> None:
    from app.model_manager.holder import ModelHolder
    from tests.unit.fakes import fake_model

    holder = ModelHolder()
    one, two, three = fake_model("1"), fake_model("2"), fake_model("3")
    assert holder.swap(one, expected=None)
    assert holder.swap(three, expected=one)
    assert not holder.swap(two, expected=one)  # started from v1, v3 is current: stale
    assert holder.current is three
    four = fake_model("4")
    assert holder.swap(four, expected=one)  # stale start, but newer than what is served
    assert holder.current is four
