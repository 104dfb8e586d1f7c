"""One queue for every load: initial load, reload and refresh run one at a time.

A job asked for while an identical one is still waiting joins it (single-flight), so a
burst of webhooks or reload calls costs one load, and no two loads ever race to swap.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class _Job:
    kind: str
    run: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


class JobQueue:
    def __init__(self, name: str = "model-load") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._waiting: deque[_Job] = deque()
        self._running: _Job | None = None
        self._worker: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._running is not None or bool(self._waiting)

    def submit(self, kind: str, run: Callable[[], Any]) -> Future[Any]:
        """Queue ``run`` (or join a waiting job of the same ``kind``); its result arrives in
        the future. ``run`` must not raise: failures are results."""
        with self._lock:
            for job in self._waiting:
                if job.kind == kind:
                    return job.future
            job = _Job(kind, run)
            self._waiting.append(job)
            if self._worker is None:
                # A daemon thread: a load stuck in a network call must not keep the process
                # alive, and nothing relies on lifespan shutdown to stop it.
                self._worker = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._worker.start()
        return job.future

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._worker = None
                    self._running = None
                    return
                job = self._running = self._waiting.popleft()
            try:
                job.future.set_result(job.run())
            except BaseException as exc:  # delivered to whoever waits on the future
                log.exception("model %s job crashed", job.kind)
                job.future.set_exception(exc)
