"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__, observability
from app.api import docs, health, hooks, model_info, predict, registry_admin, scoring_server
from app.asgi_guard import GuardedFastAPI
from app.errors import install_error_handlers
from app.json_response import JSONResponse
from app.logging_setup import configure_logging
from app.middleware import BodyLimitMiddleware, RequestIdMiddleware
from app.model_manager import ModelManager
from app.services import build_services
from app.settings import Settings, get_settings, report_unresolved_settings


def create_app(settings: Settings | None = None, manager: ModelManager | None = None) -> FastAPI:
    """Build the app. No network I/O happens here: the model loads on first use."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    report_unresolved_settings(settings)
    services = build_services(settings, manager)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The Functions shim runs this on the first invocation, possibly several times
        # concurrently; start() is single-flight. Shutdown is never relied upon.
        services.manager.start()
        await services.manager.wait_initial(settings.startup_wait_seconds)
        yield
        services.close()  # best effort; loss is bounded by the flush interval

    app = GuardedFastAPI(  # no exception leaves the app (see app/asgi_guard.py)
        title="MLflow model serving on Azure Functions",
        version=__version__,
        description="Serves an MLflow-registered model; falls back to a signed copy in Blob "
        "Storage when the registry cannot serve it.",
        default_response_class=JSONResponse,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,  # served by app.api.docs from a pinned package
    )
    app.state.services = services  # read through app.services.services_of / app.api.deps

    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(model_info.router)
    app.include_router(predict.router)
    app.include_router(scoring_server.router)
    app.include_router(registry_admin.router)
    app.include_router(hooks.router)
    docs.install(app)
    observability.install(app, services)

    # Added last = outermost: CORS wraps the body limit, so a 413 still carries CORS headers.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestIdMiddleware)
    return app
