"""What is being served, how it got there, and reloading it."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request

from app.api.deps import ManagerDep
from app.errors import error_responses
from app.json_response import JSONResponse
from app.model_manager import ModelManager
from app.security import admin_optional, is_admin

router = APIRouter(tags=["model"])


# Shown only to admins when an admin key is configured: load errors and source URIs name
# internal hosts and paths (already stripped of credentials), which a plain function-key
# holder has no use for.
_ADMIN_ONLY_ATTEMPT_FIELDS = ("uri", "error")


def _attempts(m: ModelManager, admin: bool) -> list[dict[str, Any]]:
    attempts = [a.as_dict() for a in m.attempts]
    if not admin:
        for attempt in attempts:
            for key in _ADMIN_ONLY_ATTEMPT_FIELDS:
                attempt.pop(key, None)
    return attempts


def fallback_state(m: ModelManager) -> dict[str, Any]:
    return {"version": m.fallback.version, "in_sync": m.fallback_in_sync, "error": m.fallback.error}


def _state(m: ModelManager, admin: bool) -> dict[str, Any]:
    return {
        "load_attempts": _attempts(m, admin),
        "registry_reachable": m.registry_reachable,
        "fallback": fallback_state(m),
        "fallback_in_sync": m.fallback_in_sync,
        "refresh": {
            "interval_seconds": m.settings.model_refresh_seconds,
            "refreshes": m.stats.refreshes,
            "failures": m.stats.refresh_failures,
            "last_error": m.stats.last_refresh_error if admin else None,
        },
    }


_ATTEMPTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["source", "outcome"],
        "properties": {
            "source": {"type": "string"},
            "outcome": {"type": "string"},
            "error": {"type": ["string", "null"]},
        },
    },
}
_INFO = {
    "type": "object",
    "required": ["name", "version", "source", "load_attempts", "refresh"],
    "properties": {"load_attempts": _ATTEMPTS, "refresh": {"type": "object"}},
}
_RELOADED = {
    "type": "object",
    "required": ["status", "model", "load_attempts"],
    "properties": {"status": {"const": "reloaded"}, "load_attempts": _ATTEMPTS},
}


def _ok(description: str, schema: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"application/json": {"schema": schema}}}}


@router.get(
    "/model/info",
    summary="The served model, its signature, metrics and load attempts",
    responses={**_ok("The served model", _INFO), **error_responses(503)},
)
async def info(request: Request, m: ManagerDep) -> JSONResponse:
    await m.wait_initial(m.settings.startup_wait_seconds)
    model = m.current
    admin = is_admin(request)
    if model is None:
        return JSONResponse(
            {
                "error": "model_unavailable",
                "message": "No model is loaded yet.",
                "reason": m.unavailable_reason,
                **_state(m, admin),
            },
            status_code=503,
        )
    return JSONResponse({**model.info(), **_state(m, admin)})


@router.post(
    "/model/reload",
    summary="Reload through the loading chain; atomic swap",
    dependencies=[Depends(admin_optional)],
    responses={**_ok("Reloaded", _RELOADED), **error_responses(401, 403, 503)},
)
@router.post("/reload-model", include_in_schema=False, dependencies=[Depends(admin_optional)])
async def reload(m: ManagerDep) -> JSONResponse:
    previous = m.current
    result = await asyncio.wrap_future(m.reload())
    attempts = [a.as_dict() for a in result.attempts]
    if result.model is None:
        serving = previous.summary() if previous else None
        return JSONResponse(
            {
                "error": "reload_failed",
                "message": "No source yielded a model.",
                "reason": result.reason,
                "serving": serving,
                "load_attempts": attempts,
            },
            status_code=503,
        )
    return JSONResponse(
        {
            "status": "reloaded",
            "model": result.model.summary(),
            "previous": previous.summary() if previous else None,
            "load_attempts": attempts,
        }
    )
