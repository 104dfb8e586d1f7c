"""Azure Functions entry point (Python v2 model).

Every route of the FastAPI app becomes one HTTP-triggered function through the ASGI shim.
Under the Functions host (``FUNCTIONS_WORKER_RUNTIME`` is set) the model starts loading in
a background thread as soon as the worker imports this module, so the first invocation
finds it loaded or nearly so; elsewhere (tests, tools) importing does no network I/O.
"""

from __future__ import annotations

import azure.functions as func

from app.model_manager import ModelManager
from app.settings import Settings, get_settings


def build(settings: Settings | None = None, *, preload: bool = False) -> func.AsgiFunctionApp:
    settings = settings or get_settings()
    manager = ModelManager(settings)
    if preload:
        manager.preload()  # before the app's own imports, so they overlap the load
    from app.main import create_app

    fastapi_app = create_app(settings, manager)
    return func.AsgiFunctionApp(
        app=fastapi_app,
        http_auth_level=func.AuthLevel[settings.functions_auth_level],
    )


app = build(preload=get_settings().functions_worker_runtime is not None)
