"""The composition root: what the routes depend on, built once per app and handed to them
as typed FastAPI dependencies (``app.api.deps``).

Nothing here does network I/O: the model manager loads on first use (or on preload under
the Functions host), and the prediction logger and telemetry start their exporters lazily.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from app.model_loading import fetch_mlflow
from app.model_manager import ModelManager
from app.observability.metrics import ServingMetrics
from app.replay_guard import SeenDeliveries
from app.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

    from app.observability.prediction_log import PredictionLogger
    from app.predictor import Prediction

log = logging.getLogger(__name__)

PredictionObserver = Callable[["Request", "Prediction"], None]


@dataclass
class Services:
    settings: Settings
    manager: ModelManager
    metrics: ServingMetrics
    observers: list[PredictionObserver] = field(default_factory=list)
    prediction_logger: PredictionLogger | None = None
    telemetry: bool = False
    webhook_deliveries: SeenDeliveries = field(default_factory=SeenDeliveries)

    def close(self) -> None:
        """Best effort on shutdown (the Functions shim may never call it): flush the log."""
        if self.prediction_logger is not None:
            self.prediction_logger.close()


def build_services(settings: Settings, manager: ModelManager | None = None) -> Services:
    """Configure MLflow's process switches once and build the manager, metrics and the
    prediction logger. ``manager`` is injected by tests and by ``function_app.build``,
    which creates it first to start the model download while the app's modules import."""
    fetch_mlflow.configure(settings)  # bounded HTTP, no retries, MLflow's pickle switch off
    manager = manager or ModelManager(settings)
    metrics = ServingMetrics(manager)
    services = Services(settings=settings, manager=manager, metrics=metrics)
    services.observers.append(metrics.observe_prediction)
    if settings.prediction_log_enabled:
        if settings.has_storage:
            from app.observability.prediction_log import PredictionLogger

            prediction_logger = PredictionLogger(settings, count=metrics.count_logged)
            metrics.watch_prediction_log(lambda: prediction_logger.buffered_bytes)
            services.prediction_logger = prediction_logger
            services.observers.append(prediction_logger)
        else:
            log.warning(
                "PREDICTION_LOG_ENABLED is set but no blob storage is configured: predictions are not logged"
            )
    return services


def services_of(app: FastAPI | Any) -> Services:
    """The services an app was built with (tests and tools reach them through this)."""
    return cast(Services, app.state.services)
