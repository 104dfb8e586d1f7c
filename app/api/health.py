"""Liveness and readiness."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from app.api.deps import ManagerDep
from app.json_response import JSONResponse
from app.model_manager import ModelManager

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="200 while the process runs")
async def live() -> JSONResponse:
    return JSONResponse({"status": "alive"})


def _registry(m: ModelManager) -> dict[str, Any]:
    checked = m.registry_checked_at
    return {
        "reachable": m.registry_reachable,
        "checked_at": datetime.fromtimestamp(checked, UTC).isoformat() if checked else None,
    }


_UNRESOLVED = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Settings left as unresolved Key Vault references (treated as "
    "unset); present only when there are any",
}
_REGISTRY = {
    "type": "object",
    "properties": {"reachable": {"type": ["boolean", "null"]}, "checked_at": {"type": ["string", "null"]}},
}
_READY = {
    "type": "object",
    "required": ["status", "registry", "model"],
    "properties": {
        "status": {"const": "ready"},
        "registry": _REGISTRY,
        "model": {"type": "object"},
        "uptime_seconds": {"type": "number"},
        "loaded_at": {"type": "string"},
        "unresolved_settings": _UNRESOLVED,
    },
}
_UNAVAILABLE = {
    "type": "object",
    "required": ["status", "error", "message", "reason"],
    "properties": {
        "status": {"const": "unavailable"},
        "error": {"const": "model_unavailable"},
        "message": {"type": "string"},
        "reason": {"type": "string"},
        "loading": {"type": "boolean"},
        "registry": _REGISTRY,
        "unresolved_settings": _UNRESOLVED,
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A model is loaded", "content": {"application/json": {"schema": _READY}}},
    503: {
        "description": "No model is loaded; `reason` says why (Retry-After: 5)",
        "content": {"application/json": {"schema": _UNAVAILABLE}},
    },
}


@router.get("/health/ready", summary="200 when a model is loaded, 503 otherwise", responses=_RESPONSES)
@router.get("/health", summary="Same as /health/ready", responses=_RESPONSES)
async def ready(m: ManagerDep) -> JSONResponse:
    await m.wait_initial(m.settings.startup_wait_seconds)
    model = m.current
    body: dict[str, Any] = {
        "uptime_seconds": round(time.monotonic() - m.started_monotonic, 1),
        "registry": _registry(m),
        "fallback": {"version": m.fallback.version, "in_sync": m.fallback_in_sync},
    }
    if m.settings.unresolved_settings:  # names only, never the reference text
        body["unresolved_settings"] = list(m.settings.unresolved_settings)
    if model is None:
        body.update(
            status="unavailable",
            error="model_unavailable",
            message="No model is loaded yet.",
            reason=m.unavailable_reason,
            loading=m.loading,
        )
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    body.update(
        status="ready",
        model={**model.summary(), "signed": model.trust == "signed"},
        loaded_at=model.loaded_at,
    )
    return JSONResponse(body)
