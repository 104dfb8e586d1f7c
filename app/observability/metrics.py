"""Prometheus metrics: HTTP traffic, predictions, and the model manager's state.

Each app gets its own ``CollectorRegistry`` so several apps in one process (tests, the
benchmark) never share or collide on counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.model_manager import ModelManager

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServingMetrics:
    def __init__(self, manager: ModelManager) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route, method and status",
            ["route", "method", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "predictions",
            "Rows scored, by model version and source",
            ["model", "version", "source"],
            registry=self.registry,
        )
        self.logged = Counter(
            "prediction_log_records",
            "Prediction log lines written or dropped (write failures), and "
            "records dropped because the buffer was full (overflow)",
            ["outcome"],
            registry=self.registry,
        )
        self.log_buffer = Gauge(
            "prediction_log_buffer_bytes",
            "Bytes the prediction log holds now (limit: PREDICTION_LOG_MAX_BUFFER_BYTES)",
            registry=self.registry,
        )
        self.registry.register(ManagerCollector(manager))

    def count_logged(self, outcome: str, records: int) -> None:
        self.logged.labels(outcome).inc(records)

    def watch_prediction_log(self, buffered_bytes: Callable[[], float]) -> None:
        self.log_buffer.set_function(buffered_bytes)

    def observe_prediction(self, _request: Any, result: Any) -> None:
        model = result.model
        self.predictions.labels(model.name, str(model.version), model.source).inc(result.model_input.rows)


class ManagerCollector(Collector):
    """Reads the model manager's live state at scrape time."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Any]:
        m = self.manager
        info = GaugeMetricFamily(
            "model_info", "The model being served (value 1)", labels=["model", "version", "source", "trust"]
        )
        if m.current is not None:
            info.add_metric([m.current.name, str(m.current.version), m.current.source, m.current.trust], 1)
        yield info
        fallback = GaugeMetricFamily(
            "model_fallback_info", "The version the blob fallback holds (value 1)", labels=["version"]
        )
        if m.fallback.version is not None:
            fallback.add_metric([m.fallback.version], 1)
        yield fallback
        yield GaugeMetricFamily(
            "model_fallback_in_sync",
            "1 when the fallback holds the served version, 0 when not, -1 not yet known",
            value={True: 1, False: 0, None: -1}[m.fallback_in_sync],
        )
        yield GaugeMetricFamily(
            "model_loaded", "1 when a model is loaded", value=1 if m.current is not None else 0
        )
        reachable = GaugeMetricFamily(
            "registry_reachable",
            "1 reachable, 0 unreachable, -1 not yet known",
            value={True: 1, False: 0, None: -1}[m.registry_reachable],
        )
        yield reachable
        stats = m.stats
        for name, value, text in (
            ("model_loads", stats.loads, "Successful loads through the chain"),
            ("model_load_failures", stats.load_failures, "Chain runs that yielded no model"),
            ("model_fallback_loads", stats.fallback_loads, "Loads served by the blob fallback"),
            ("model_swaps", stats.swaps, "Model swaps (initial load, reloads, refreshes)"),
            ("model_refreshes", stats.refreshes, "Alias/stage refresh checks"),
            ("model_refresh_failures", stats.refresh_failures, "Refresh checks that failed"),
        ):
            yield CounterMetricFamily(name, text, value=value)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not the raw path)."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            labels = (route, scope.get("method", ""), str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
