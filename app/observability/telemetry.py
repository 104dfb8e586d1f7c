"""Export traces, logs and metrics to Application Insights through OpenTelemetry.

Active only when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set; the import of the Azure
Monitor distro (~0.5 s) is paid only then. In Azure the user-assigned identity
(``AZURE_CLIENT_ID``) authenticates ingestion, so the resource can keep local auth off.
Request URLs are exported without secrets (`app.observability.redaction`): the
``code`` function key and any other secret-named query parameter are replaced first.
The Prometheus metrics of `/metrics` are mirrored as OpenTelemetry instruments with the
same names, so dashboards read the same numbers from either side.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import FastAPI

from app.model_manager import ModelManager
from app.settings import Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_configured = False
# Endpoints that would only add noise to request telemetry.
EXCLUDED_URLS = "health/live,metrics"


def configure_process(settings: Settings) -> bool:
    """Set up the Azure Monitor distro once per process; True when telemetry is on."""
    global _configured
    if settings.appinsights_connection_string is None:
        return False
    with _lock:
        if _configured:
            return True
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry.sdk.resources import Resource

        from app.observability.redaction import RedactingSpanProcessor

        credential = None
        if settings.azure_client_id:
            from azure.identity import ManagedIdentityCredential

            credential = ManagedIdentityCredential(client_id=settings.azure_client_id)
        configure_azure_monitor(
            connection_string=settings.appinsights_connection_string.get_secret_value(),
            credential=credential,
            logger_name="app",
            # ?code=<function key> and other secret-named parameters never leave the process.
            span_processors=[RedactingSpanProcessor()],
            resource=Resource.create(
                {"service.name": "mlflow-model-serving", "service.instance.id": settings.instance_id or ""}
            ),
            # FastAPI is instrumented per app below; the rest are not used by this service.
            instrumentation_options={
                name: {"enabled": False} for name in ("fastapi", "django", "flask", "psycopg2")
            },
        )
        _configured = True
        return True


def install(app: FastAPI, settings: Settings, manager: ModelManager) -> Any | None:
    """Instrument ``app`` (requests, model metrics) when telemetry is configured; returns the
    prediction observer that feeds the model metrics, or None when telemetry is off."""
    try:
        if not configure_process(settings):
            return None
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        from app.observability.redaction import redact_span_urls

        FastAPIInstrumentor.instrument_app(
            app, excluded_urls=EXCLUDED_URLS, server_request_hook=redact_span_urls
        )
        observer = _model_metrics(manager)
    except Exception:  # telemetry must never stop the service from serving
        log.exception("Application Insights telemetry could not be configured")
        return None
    log.info("Application Insights telemetry on")
    return observer


def _model_metrics(manager: ModelManager) -> Any:
    """OpenTelemetry instruments matching the Prometheus names; returns the prediction observer."""
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, Observation

    meter = metrics.get_meter("app.serving")
    predictions = meter.create_counter(
        "predictions", unit="{row}", description="Rows scored, by model version and source"
    )

    def model_state(_: CallbackOptions) -> list[Observation]:
        current = manager.current
        observations = [Observation(1 if current is not None else 0, {"metric": "model_loaded"})]
        reachable = {True: 1, False: 0, None: -1}[manager.registry_reachable]
        observations.append(Observation(reachable, {"metric": "registry_reachable"}))
        return observations

    def counters(_: CallbackOptions) -> list[Observation]:
        stats = manager.stats
        return [
            Observation(value, {"event": name})
            for name, value in (
                ("loads", stats.loads),
                ("load_failures", stats.load_failures),
                ("swaps", stats.swaps),
                ("fallback_loads", stats.fallback_loads),
                ("refreshes", stats.refreshes),
                ("refresh_failures", stats.refresh_failures),
            )
        ]

    meter.create_observable_gauge(
        "model_state", callbacks=[model_state], description="model_loaded (0/1), registry_reachable (1/0/-1)"
    )
    meter.create_observable_counter(
        "model_events", callbacks=[counters], description="Model loads, failures, swaps, fallbacks, refreshes"
    )

    def observe(_request: Any, result: Any) -> None:
        model = result.model
        predictions.add(
            result.model_input.rows,
            {"model": model.name, "version": str(model.version), "source": model.source},
        )

    return observe
