"""Logs, metrics and traces."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from starlette.responses import Response

from app.observability.metrics import MetricsMiddleware, ServingMetrics
from app.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Attach Prometheus metrics (``GET /metrics``) and the prediction counter to the app."""
    disable_created_metrics()  # no *_created series: they double the output for no use here
    metrics = ServingMetrics(app.state.model_manager)
    app.state.metrics = metrics
    app.state.prediction_observers.append(metrics.observe_prediction)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics",
             response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
