"""Logs, metrics, traces and prediction logging."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from starlette.responses import Response

from app.observability.metrics import MetricsMiddleware, ServingMetrics
from app.settings import Settings

log = logging.getLogger(__name__)


def install(app: FastAPI, settings: Settings) -> None:
    """Attach Prometheus metrics (``GET /metrics``) and the prediction counter to the app."""
    disable_created_metrics()  # no *_created series: they double the output for no use here
    metrics = ServingMetrics(app.state.model_manager)
    app.state.metrics = metrics
    app.state.prediction_observers.append(metrics.observe_prediction)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    from app.observability import telemetry

    app.state.telemetry = telemetry.install(app, settings, app.state.model_manager)
    app.state.prediction_logger = None
    if settings.prediction_log_enabled:
        if settings.has_storage:
            from app.observability.prediction_log import PredictionLogger

            logger = PredictionLogger(settings, count=metrics.count_logged)
            metrics.watch_prediction_log(lambda: logger.buffered_bytes)
            app.state.prediction_logger = logger
            app.state.prediction_observers.append(logger)
        else:
            log.warning("PREDICTION_LOG_ENABLED is set but no blob storage is configured: "
                        "predictions are not logged")

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics",
             response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
