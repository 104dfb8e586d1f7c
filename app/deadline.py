"""Run a blocking call with a hard deadline, abandoning it (daemon thread) if it overruns."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    pass


def call_with_deadline(fn: Callable[[], T], seconds: float, name: str = "deadline-call") -> T:
    """Return ``fn()`` or raise ``DeadlineExceeded`` after ``seconds``.

    A hung network call (a server that accepts but never answers) cannot be cancelled
    from Python, so it keeps running on a daemon thread and its result is dropped.
    """
    outcome: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(max(seconds, 0.0)):
        raise DeadlineExceeded(f"gave up after {seconds:.1f}s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
