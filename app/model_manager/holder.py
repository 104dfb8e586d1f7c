"""The model being served, replaced only by compare-and-set."""

from __future__ import annotations

import logging
import threading

from app.model_loading.types import LoadedModel

log = logging.getLogger(__name__)


def is_newer(candidate: LoadedModel, current: LoadedModel | None) -> bool:
    """True when ``candidate`` is a later registry version of the same model."""
    if current is None:
        return True
    if candidate.name != current.name or candidate.version is None or current.version is None:
        return False
    if not (candidate.version.isdigit() and current.version.isdigit()):
        return False
    return int(candidate.version) > int(current.version)


class ModelHolder:
    """Readers take ``current`` once (one attribute read) and finish on that model.

    A load job swaps only if the model it started from is still current, or if what it
    loaded is a newer version: a slow job can never replace what a later job installed
    with something older."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def swap(self, model: LoadedModel, *, expected: LoadedModel | None) -> bool:
        with self._lock:
            previous = self._current
            if previous is not expected and not is_newer(model, previous):
                log.info(
                    "not swapping in %s version %s: version %s was installed meanwhile",
                    model.name,
                    model.version,
                    previous.version if previous else None,
                )
                return False
            self._current = model
        log.info(
            "serving model %s version %s from %s (was %s)",
            model.name,
            model.version,
            model.source,
            previous.version if previous else None,
        )
        return True
