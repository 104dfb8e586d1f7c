"""Azure Functions entry point (Python v2 model).

Every route of the FastAPI app becomes one HTTP-triggered function through the ASGI shim.
Importing this module does no network I/O; the model loads on the first invocation.
"""

from __future__ import annotations

import azure.functions as func

from app.main import create_app
from app.settings import Settings, get_settings


def build(settings: Settings | None = None) -> func.AsgiFunctionApp:
    settings = settings or get_settings()
    return func.AsgiFunctionApp(
        app=create_app(settings),
        http_auth_level=func.AuthLevel[settings.functions_auth_level],
    )


app = build()
