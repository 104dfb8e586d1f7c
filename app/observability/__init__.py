"""Logs, metrics, traces and prediction logging."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from starlette.responses import Response

from app.observability.metrics import MetricsMiddleware

if TYPE_CHECKING:  # app.services imports this package's metrics module
    from app.services import Services


def install(app: FastAPI, services: Services) -> None:
    """Attach Prometheus metrics (``GET /metrics``) and, when configured, Application Insights."""
    # no *_created series: they double the output for no use here (untyped upstream)
    disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics = services.metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    from app.observability import telemetry

    observer = telemetry.install(app, services.settings, services.manager)
    if observer is not None:
        services.observers.append(observer)
        services.telemetry = True

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
