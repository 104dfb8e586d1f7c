"""MLflow registry webhooks: verified, then an immediate model refresh on this instance.

MLflow 3 signs each delivery with HMAC-SHA256 over ``delivery_id.timestamp.payload``
(`app.security.verify_mlflow_signature`). A webhook only wakes the refresh thread; the
thread re-resolves the alias/stage and swaps if the version changed, exactly as the
periodic refresh does, so a forged-but-signed event cannot choose what is served.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request

from app.api.deps import ServicesDep
from app.errors import ApiError, error_responses
from app.json_response import JSONResponse
from app.security import verify_mlflow_signature

log = logging.getLogger(__name__)
router = APIRouter(tags=["hooks"])

# Events that can change which version an alias or stage names.
REFRESH_ENTITIES = {"model_version_alias", "model_version", "registered_model"}


def _event(payload: bytes) -> tuple[str, str, dict[str, Any]]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "The webhook body is not JSON.", field="body") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ApiError(400, "invalid_webhook", "The webhook body has no `data` object.", field="data")
    entity, action = body.get("entity"), body.get("action")
    if not isinstance(entity, str) or not isinstance(action, str):
        raise ApiError(
            400, "invalid_webhook", "The webhook body needs `entity` and `action`.", field="entity"
        )
    return entity, action, body["data"]


@router.post(
    "/hooks/mlflow",
    status_code=202,
    summary="MLflow registry webhook (signed): refresh the served model now",
    responses=error_responses(400, 401, 403),
)
async def mlflow_webhook(request: Request, services: ServicesDep) -> JSONResponse:
    settings = services.settings
    if settings.webhook_secret is None:
        raise ApiError(
            403, "webhooks_disabled", "Webhooks are disabled: no MLFLOW_WEBHOOK_SECRET is configured."
        )
    payload = await request.body()
    headers = {key.lower(): value for key, value in request.headers.items()}
    verify_mlflow_signature(settings.webhook_secret.get_secret_value(), headers, payload)
    entity, action, data = _event(payload)
    event = f"{entity}.{action}"
    relevant = entity in REFRESH_ENTITIES and data.get("name") == settings.model_name
    if not services.webhook_deliveries.first_time(headers["x-mlflow-delivery-id"]):
        log.info("webhook %s delivered again; already handled", event)
        return JSONResponse({"status": "duplicate", "event": event, "refreshing": False}, status_code=202)
    if relevant:
        services.manager.trigger_refresh()
    log.info("webhook %s for model %s: %s", event, data.get("name"), "refreshing" if relevant else "ignored")
    return JSONResponse({"status": "accepted", "event": event, "refreshing": relevant}, status_code=202)
