"""Management API over the MLflow registry (admin key required).

Every route runs the same lifecycle functions as the CLI (`app.lifecycle`) in a worker
thread. Registry answers map to HTTP: unknown model/version → 404, registry down → 503,
a promotion the gate refuses or a rollback with no earlier holder → 409.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.concurrency import run_in_threadpool

from app.api.deps import settings as app_settings
from app.errors import ApiError, error_responses
from app.json_response import JSONResponse
from app.lifecycle import operations, promotion
from app.model_loading import registry
from app.security import require_admin
from app.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/registry", tags=["registry"], dependencies=[Depends(require_admin)])
T = TypeVar("T")

ModelName = Annotated[str, Path(min_length=1, max_length=256, description="Registered model name")]
_ERRORS = error_responses(400, 401, 403, 404, 502, 503)
_ALIAS_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]{0,254}$"


class MetricGate(BaseModel):
    """Promote only if ``metric op threshold`` holds for the candidate version."""

    model_config = ConfigDict(extra="forbid")
    metric: str = Field(min_length=1, max_length=250, pattern=r"^[\w.\-]+$", examples=["r2"])
    op: Literal[">=", ">", "<=", "<"] = ">="
    threshold: float

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value

    def gate(self) -> promotion.Gate:
        return promotion.Gate(self.metric, self.op, self.threshold)


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,9}$", examples=["3"])]
    alias: str | None = Field(default=None, pattern=_ALIAS_PATTERN,
                              description="Alias to point at the version; `champion` when neither "
                                          "alias nor stage is given.")
    stage: Literal["Staging", "Production", "Archived"] | None = None
    archive_existing: bool = Field(
        default=True, description="With a stage: archive the versions that held it.")
    min_metric: MetricGate | None = None
    beat_champion: bool = Field(
        default=False, description="Also require a better min_metric value than the alias holder.")
    publish_fallback: bool = Field(
        default=True, description="Publish the promoted version as the blob fallback.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("stage", mode="before")
    @classmethod
    def _stage_case(cls, value: Any) -> Any:
        return value.strip().capitalize() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _target(self) -> PromoteRequest:
        if self.alias is None and self.stage is None:
            self.alias = "champion"
        if self.beat_champion and self.min_metric is None:
            raise ValueError("beat_champion needs min_metric (the metric to compare on)")
        return self


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alias: str = Field(default="champion", pattern=_ALIAS_PATTERN)
    publish_fallback: bool = True


async def _call(settings: Settings, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(settings, ...)`` off the event loop; map registry failures to HTTP errors."""
    from mlflow.exceptions import MlflowException

    registry.configure_mlflow_client(settings)  # bounded timeouts, no retry storms
    try:
        return await run_in_threadpool(fn, settings, *args, **kwargs)
    except ApiError:
        raise
    except MlflowException as exc:
        code = str(getattr(exc, "error_code", ""))
        message = str(exc.message if hasattr(exc, "message") else exc).splitlines()[0][:300]
        if "RESOURCE_DOES_NOT_EXIST" in code or "not found" in message.lower():
            raise ApiError(404, "not_found", message) from None
        if registry.is_unreachable(exc):
            raise _unreachable(exc) from None
        if "INVALID_PARAMETER_VALUE" in code:
            raise ApiError(400, "invalid_request", message) from None
        log.warning("registry call failed: %s", message)
        raise ApiError(502, "registry_error", message) from None
    except promotion.NothingToRollBack as exc:
        raise ApiError(409, "nothing_to_roll_back", str(exc)) from None
    except Exception as exc:
        if registry.is_unreachable(exc):
            raise _unreachable(exc) from None
        raise


def _unreachable(exc: BaseException) -> ApiError:
    log.warning("registry unreachable: %s", registry.wrap_error(exc))
    return ApiError(503, "registry_unavailable", "The MLflow registry did not answer in time.")


def _follow(request: Request, name: str) -> bool:
    """Make this instance re-resolve at once when the change concerns the model it serves."""
    if name != app_settings(request).model_name:
        return False
    request.app.state.model_manager.trigger_refresh()
    return True


@router.get("/models", summary="Registered models: latest version, aliases, stages",
            responses=_ERRORS)
async def list_models(request: Request) -> JSONResponse:
    settings = app_settings(request)
    return JSONResponse({"models": await _call(settings, operations.list_models)})


@router.get("/models/{name}", summary="One model: versions with metrics, aliases, alias history",
            responses=_ERRORS)
async def get_model(request: Request, name: ModelName) -> JSONResponse:
    return JSONResponse(await _call(app_settings(request), operations.describe, name))


@router.get("/models/{name}/compare", summary="Versions side by side (metrics, aliases, stage)",
            responses=_ERRORS)
async def compare(
    request: Request, name: ModelName,
    versions: Annotated[list[str] | None, Query(description="Only these versions")] = None,
) -> JSONResponse:
    rows = await _call(app_settings(request), operations.compare, name)
    if versions:
        unknown = sorted(set(versions) - {row["version"] for row in rows})
        if unknown:
            raise ApiError(404, "not_found", f"unknown version(s): {', '.join(unknown)}",
                           field="versions")
        rows = [row for row in rows if row["version"] in set(versions)]
    return JSONResponse({"model_name": name, "versions": rows})


@router.post("/models/{name}/promote", summary="Promote a version through a quality gate",
             responses={**_ERRORS, **error_responses(400, 409, 422)})
async def promote(request: Request, name: ModelName, body: PromoteRequest) -> JSONResponse:
    settings = app_settings(request)
    decision = await _call(
        settings, promotion.promote, name, body.version, alias=body.alias, stage=body.stage,
        gate=body.min_metric.gate() if body.min_metric else None,
        must_beat_champion=body.beat_champion, archive_existing=body.archive_existing,
        publish=body.publish_fallback)
    if not decision.promoted:
        return JSONResponse({"error": "promotion_refused", "message": decision.reason,
                             "decision": decision.as_dict()}, status_code=409)
    return JSONResponse({"decision": decision.as_dict(), "refreshing": _follow(request, name)})


@router.post("/models/{name}/rollback", summary="Point the alias back at its previous holder",
             responses={**_ERRORS, **error_responses(400, 409, 422)})
async def rollback(request: Request, name: ModelName,
                   body: Annotated[RollbackRequest | None, Body()] = None) -> JSONResponse:
    body = body or RollbackRequest()
    decision = await _call(app_settings(request), promotion.rollback, name, body.alias,
                           publish=body.publish_fallback)
    return JSONResponse({"decision": decision.as_dict(), "refreshing": _follow(request, name)})
