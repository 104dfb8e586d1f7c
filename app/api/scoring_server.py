"""MLflow scoring-server routes besides /invocations: ``GET /ping`` and ``GET /version``,
what ``mlflow.pyfunc.scoring_server.client.ScoringServerClient`` polls and reads."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

from app.api.deps import ManagerDep
from app.errors import ModelUnavailable, error_responses
from app.json_response import JSONResponse

router = APIRouter(tags=["mlflow scoring server"])


@router.get(
    "/ping",
    summary="200 once a model is loaded (MLflow's readiness probe)",
    responses={200: {"description": "A model is loaded"}, **error_responses(503)},
)
async def ping(m: ManagerDep) -> JSONResponse:
    if m.current is None:  # answered at once: clients poll this until it is 200
        raise ModelUnavailable(m.unavailable_reason)
    return JSONResponse({"status": "ready"})


@router.get(
    "/version",
    summary="The MLflow version whose scoring protocol is served",
    response_class=PlainTextResponse,
)
async def version() -> PlainTextResponse:
    return PlainTextResponse(mlflow_version())


@lru_cache(maxsize=1)
def mlflow_version() -> str:
    for distribution in ("mlflow-skinny", "mlflow"):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"
