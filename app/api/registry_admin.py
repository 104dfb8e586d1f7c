"""Management API over the MLflow registry (admin key required).

Every route runs the same lifecycle functions as the CLI (`app.lifecycle`) in a worker
thread. Registry answers map to HTTP: unknown model/version → 404, registry down → 503,
a promotion the gate refuses or a rollback with no earlier holder → 409. A body that is not
JSON is 400 `invalid_json`; one that does not fit the schema is 400 `invalid_request`
naming the field, like every other input error of the service.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from app.api.deps import ServicesDep, SettingsDep
from app.errors import ApiError, error_responses
from app.json_response import JSONResponse
from app.lifecycle import operations, promotion
from app.lifecycle.fallback_publisher import FallbackNotConfigured
from app.model_loading.failures import as_load_error, is_unreachable
from app.model_loading.types import LoadError, UnreachableError
from app.security import require_admin
from app.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


def _invalid(exc: RequestValidationError) -> ApiError:
    """400 naming the field at fault (never the offending value, never a character offset)."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    if first.get("type") == "json_invalid":  # its loc is ("body", <character offset>)
        return ApiError(400, "invalid_json", "The body is not valid JSON.", field="body")

    def name(loc: Any) -> str:
        return ".".join(str(p) for p in loc if p not in ("body", "query", "path", "header")) or "body"

    field = name(first.get("loc", ("body",)))
    problems = [{"field": name(e.get("loc", ())), "problem": str(e.get("msg", ""))} for e in errors[:20]]
    return ApiError(
        400,
        "invalid_request",
        f"{field}: {first.get('msg', 'invalid value')}",
        field=field,
        problems=problems,
    )


class _AdminRoute(APIRoute):
    """Request validation errors become 400 `invalid_request` (FastAPI's default is 422)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise _invalid(exc) from None

        return route_handler


router = APIRouter(
    prefix="/registry", tags=["registry"], dependencies=[Depends(require_admin)], route_class=_AdminRoute
)

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
    alias: str | None = Field(
        default=None,
        pattern=_ALIAS_PATTERN,
        description="Alias to point at the version; `champion` when neither alias nor stage is given.",
    )
    stage: Literal["Staging", "Production", "Archived"] | None = None
    archive_existing: bool = Field(
        default=True, description="With a stage: archive the versions that held it."
    )
    min_metric: MetricGate | None = None
    beat_champion: bool = Field(
        default=False, description="Also require a better min_metric value than the alias holder."
    )
    publish_fallback: bool = Field(
        default=True, description="Publish the promoted version as the blob fallback."
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("stage", mode="before")
    @classmethod
    def _stage_case(cls, value: Any) -> Any:
        return value.strip().capitalize() if isinstance(value, str) else value

    @field_validator("stage")
    @classmethod
    def _alias_or_stage(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("alias") is not None:
            raise PydanticCustomError(
                "alias_and_stage", "alias and stage were both given; a promotion moves one of them"
            )
        return value

    @field_validator("beat_champion")
    @classmethod
    def _needs_metric(cls, value: bool, info: ValidationInfo) -> bool:
        if value and "min_metric" in info.data and info.data["min_metric"] is None:
            raise PydanticCustomError(
                "needs_min_metric", "beat_champion needs min_metric (the metric to compare on)"
            )
        return value

    @model_validator(mode="after")
    def _target(self) -> PromoteRequest:
        if self.alias is None and self.stage is None:
            self.alias = "champion"
        return self


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alias: str = Field(default="champion", pattern=_ALIAS_PATTERN)
    publish_fallback: bool = True


async def _call(settings: Settings, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(settings, ...)`` off the event loop; map registry failures to HTTP errors."""
    from mlflow.exceptions import MlflowException

    try:
        return await run_in_threadpool(fn, settings, *args, **kwargs)
    except ApiError:
        raise
    except MlflowException as exc:
        code = str(getattr(exc, "error_code", ""))
        message = str(exc.message if hasattr(exc, "message") else exc).splitlines()[0][:300]
        if "RESOURCE_DOES_NOT_EXIST" in code or "not found" in message.lower():
            raise ApiError(404, "not_found", message) from None
        if is_unreachable(exc):
            raise _unreachable(exc) from None
        if "INVALID_PARAMETER_VALUE" in code:
            raise ApiError(400, "invalid_request", message) from None
        log.warning("registry call failed: %s", message)
        raise ApiError(502, "registry_error", message) from None
    except promotion.NothingToRollBack as exc:
        raise ApiError(409, "nothing_to_roll_back", str(exc)) from None
    except FallbackNotConfigured as exc:
        raise ApiError(409, "fallback_not_configured", str(exc), field="publish_fallback") from None
    except ValueError as exc:  # the lifecycle functions' own input checks
        raise ApiError(400, "invalid_request", str(exc)[:300]) from None
    except promotion.PublishFailed as exc:
        log.warning("%s", exc)
        raise ApiError(503, "fallback_publish_failed", str(exc)) from None
    except LoadError as exc:  # e.g. the target version is not signed: nothing moved
        failure = as_load_error(exc)
        if isinstance(failure, UnreachableError):
            raise ApiError(503, "dependency_unavailable", str(failure)) from None
        raise ApiError(409, "not_servable", str(failure)) from None
    except Exception as exc:
        if is_unreachable(exc):
            raise _unreachable(exc) from None
        raise


def _unreachable(exc: BaseException) -> ApiError:
    log.warning("registry unreachable: %s", as_load_error(exc))
    return ApiError(503, "registry_unavailable", "The MLflow registry did not answer in time.")


async def _writes_enabled(settings: SettingsDep) -> None:
    """Promotion and rollback write to the registry and the fallback container. Where this
    instance's identity may not (Azure, as deployed: read-only), say where they run instead."""
    if not settings.registry_writes_enabled:
        raise ApiError(
            403,
            "registry_writes_disabled",
            "This deployment is read-only on the registry and the fallback: promote "
            "and roll back with `python -m app promote|rollback` as the CI or "
            "operator identity (REGISTRY_WRITES_ENABLED=false).",
        )


def _follow(services: ServicesDep, name: str) -> bool:
    """Make this instance re-resolve at once when the change concerns the model it serves."""
    if name != services.settings.model_name:
        return False
    services.manager.trigger_refresh()
    return True


@router.get("/models", summary="Registered models: latest version, aliases, stages", responses=_ERRORS)
async def list_models(settings: SettingsDep) -> JSONResponse:
    return JSONResponse({"models": await _call(settings, operations.list_models)})


@router.get(
    "/models/{name}", summary="One model: versions with metrics, aliases, alias history", responses=_ERRORS
)
async def get_model(settings: SettingsDep, name: ModelName) -> JSONResponse:
    return JSONResponse(await _call(settings, operations.describe, name))


@router.get(
    "/models/{name}/compare", summary="Versions side by side (metrics, aliases, stage)", responses=_ERRORS
)
async def compare(
    settings: SettingsDep,
    name: ModelName,
    versions: Annotated[list[str] | None, Query(description="Only these versions")] = None,
) -> JSONResponse:
    rows = await _call(settings, operations.compare, name)
    if versions:
        unknown = sorted(set(versions) - {row["version"] for row in rows})
        if unknown:
            raise ApiError(404, "not_found", f"unknown version(s): {', '.join(unknown)}", field="versions")
        rows = [row for row in rows if row["version"] in set(versions)]
    return JSONResponse({"model_name": name, "versions": rows})


@router.post(
    "/models/{name}/promote",
    summary="Promote a version through a quality gate",
    dependencies=[Depends(_writes_enabled)],
    responses={**_ERRORS, **error_responses(409)},
)
async def promote(services: ServicesDep, name: ModelName, body: PromoteRequest) -> JSONResponse:
    settings = services.settings
    decision = await _call(
        settings,
        promotion.promote,
        name,
        body.version,
        alias=body.alias,
        stage=body.stage,
        gate=body.min_metric.gate() if body.min_metric else None,
        must_beat_champion=body.beat_champion,
        archive_existing=body.archive_existing,
        publish=body.publish_fallback,
    )
    if not decision.promoted:
        return JSONResponse(
            {"error": "promotion_refused", "message": decision.reason, "decision": decision.as_dict()},
            status_code=409,
        )
    return JSONResponse({"decision": decision.as_dict(), "refreshing": _follow(services, name)})


@router.post(
    "/models/{name}/rollback",
    summary="Point the alias back at its previous holder",
    dependencies=[Depends(_writes_enabled)],
    responses={**_ERRORS, **error_responses(409)},
)
async def rollback(
    services: ServicesDep, name: ModelName, body: Annotated[RollbackRequest | None, Body()] = None
) -> JSONResponse:
    body = body or RollbackRequest()
    decision = await _call(
        services.settings, promotion.rollback, name, body.alias, publish=body.publish_fallback
    )
    return JSONResponse({"decision": decision.as_dict(), "refreshing": _follow(services, name)})
