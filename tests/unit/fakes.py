"""Fakes for the fast tier: a model source whose registry is a dict, and tiny models."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from app.model_loading.chain import ChainResult
from app.model_loading.refs import ModelRef
from app.model_loading.types import LoadAttempt, LoadedModel, LoadError, Resolved
from app.settings import Settings


def fake_model(
    version: str,
    name: str = "m",
    *,
    source: str = "registry",
    predict: Callable[[Any, Any], Any] | None = None,
    schema: Any = None,
    **fields: Any,
) -> LoadedModel:
    """``fields``: any other LoadedModel field (``signature``, ``metrics`` ...)."""
    return LoadedModel(
        name=name,
        version=version,
        source=source,  # type: ignore[arg-type]
        uri=f"models:/{name}/{version}",
        predict_fn=predict or (lambda frame, params: [0.0] * len(frame)),
        schema=schema,
        **fields,
    )


def fake_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "model_name": "m",
        "model_alias": "champion",
        "model_refresh_seconds": 0.0,
        "fallback_enabled": False,
        "retry_initial_seconds": 0.02,
        "retry_max_seconds": 0.05,
        "startup_wait_seconds": 2.0,
    }
    return Settings(**(values | overrides))


class FakeSource:
    """The alias points at ``target``; loads take ``delay()`` seconds; every call is counted.

    ``model`` (version -> LoadedModel) builds what a load yields (``fake_model`` by default).
    ``hold`` (version -> Event) makes the load of that version wait until the event is set,
    and ``loading`` (version -> Event) is set when such a load starts."""

    def __init__(
        self,
        target: str = "1",
        *,
        delay: Callable[[], float] = lambda: 0.0,
        fail: bool = False,
        model: Callable[[str], LoadedModel] = fake_model,
    ) -> None:
        self.target = target
        self.delay = delay
        self.fail = fail
        self.model = model  # version -> the model a load of that version yields
        self.hold: dict[str, threading.Event] = {}
        self.loading: dict[str, threading.Event] = {}
        self.chain_calls = 0
        self.loads = 0
        self._lock = threading.Lock()

    def _load(self, version: str) -> LoadedModel:
        with self._lock:
            self.loads += 1
        self.loading.setdefault(version, threading.Event()).set()
        if version in self.hold:
            assert self.hold[version].wait(10), "a held load was never released"
        time.sleep(self.delay())
        return self.model(version)

    def load_chain(self) -> ChainResult:
        with self._lock:
            self.chain_calls += 1
        if self.fail:
            return ChainResult(model=None, attempts=[LoadAttempt("registry", None, "failed", "refused")])
        version = self.target
        return ChainResult(
            model=self._load(version),
            registry_reachable=True,
            attempts=[LoadAttempt("registry", "models:/m@champion", "loaded")],
        )

    def tracked(self) -> ModelRef | None:
        return ModelRef("alias", "m", "champion")

    def resolve(self, ref: ModelRef) -> Resolved:
        if self.fail:
            raise LoadError("refused")
        return Resolved(name="m", version=self.target, run_id=None, uri=f"models:/m/{self.target}")

    def load(self, resolved: Resolved) -> LoadedModel:
        assert resolved.version is not None
        return self._load(resolved.version)

    def fallback_version(self) -> str | None:
        return None


def jitter(low: float = 0.0, high: float = 0.004) -> Callable[[], float]:
    rng = random.Random(7)
    return lambda: rng.uniform(low, high)
