"""Run a blocking call with a hard deadline, abandoning it (daemon thread) if it overruns."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    pass


def in_daemon_thread(fn: Callable[[], T], name: str = "background-call") -> Future[T]:
    """Start ``fn()`` on a daemon thread; its result or exception arrives in the future.

    A daemon thread, not a pool: a hung network call (a server that accepts but never
    answers) cannot be cancelled from Python, and must not keep the process alive."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised by future.result()
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def call_with_deadline(fn: Callable[[], T], seconds: float, name: str = "deadline-call") -> T:
    """Return ``fn()`` or raise ``DeadlineExceeded`` after ``seconds`` (the call keeps
    running on its daemon thread and its result is dropped)."""
    future = in_daemon_thread(fn, name)
    try:
        return future.result(timeout=max(seconds, 0.0))
    except TimeoutError as exc:
        if future.done() and future.exception() is exc:  # fn's own TimeoutError
            raise
        raise DeadlineExceeded(f"gave up after {seconds:.1f}s") from None
