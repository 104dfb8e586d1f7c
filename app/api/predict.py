"""Scoring routes: /predict (our contract) and /invocations (drop-in for `mlflow models serve`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import CurrentModel, ServicesDep
from app.errors import error_responses
from app.json_response import JSONResponse
from app.model_loading.types import LoadedModel
from app.payload import is_json
from app.predictor import Prediction, predict_bytes
from app.services import Services

log = logging.getLogger(__name__)
router = APIRouter(tags=["predict"])

_EXAMPLE_ROW = {
    "age": 0.04,
    "sex": 0.05,
    "bmi": 0.06,
    "bp": 0.02,
    "s1": -0.04,
    "s2": -0.03,
    "s3": -0.04,
    "s4": -0.002,
    "s5": 0.02,
    "s6": -0.02,
}
_COLUMN_VALUES = {
    "type": "object",
    "additionalProperties": {
        "oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}, {"type": "null"}]
    },
}
_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Exactly one of instances, inputs, dataframe_records, dataframe_split.",
    "properties": {
        "instances": {"type": "array", "items": _COLUMN_VALUES},
        "inputs": {"type": "array", "items": _COLUMN_VALUES},
        "dataframe_records": {"type": "array", "items": _COLUMN_VALUES},
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
            },
        },
        "params": {"type": "object"},
    },
}
_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _BODY_SCHEMA, "example": {"instances": [_EXAMPLE_ROW]}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
}
_MODEL_SUMMARY = {
    "type": "object",
    "required": ["name", "version", "source"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": ["string", "null"]},
        "source": {"type": "string", "enum": ["registry", "blob_fallback"]},
    },
}
_PREDICTIONS = {"type": "array", "description": "One prediction per input row"}
_PREDICT_OK = {
    "type": "object",
    "required": ["predictions", "model"],
    "properties": {
        "predictions": _PREDICTIONS,
        "model": _MODEL_SUMMARY,
        "request_id": {"type": ["string", "null"]},
        "processing_time_ms": {"type": "number"},
    },
}
_INVOCATIONS_OK = {
    "oneOf": [
        {"type": "object", "required": ["predictions"], "properties": {"predictions": _PREDICTIONS}},
        {
            "type": "array",
            "description": "MLflow's unwrapped form (a body with messages, prompt "
            "or input): the bare predictions",
        },
    ]
}
_INVOCATIONS_OPENAPI = {
    "requestBody": {
        **_OPENAPI["requestBody"],
        "content": {
            **_OPENAPI["requestBody"]["content"],
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _responses(ok_schema: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": "Predictions", "content": {"application/json": {"schema": ok_schema}}},
        **error_responses(400, 413, 415, 503),
    }


# JSON bodies below this size are scored on the event loop: the JSON parsers are linear and
# the hop to a worker thread would cost more than the work. CSV and Parquet always go to a
# thread (pandas' parsers are not provably linear; see app.csv_body), as do larger bodies.
INLINE_JSON_BYTES = 16_384


async def _score(request: Request, model: LoadedModel, services: Services, *, mlflow: bool) -> Prediction:
    body = await request.body()
    content_type = request.headers.get("content-type")
    max_rows = services.settings.max_batch_rows
    if len(body) < INLINE_JSON_BYTES and is_json(content_type):
        result = predict_bytes(model, body, content_type, max_batch_rows=max_rows, mlflow=mlflow)
    else:
        result = await run_in_threadpool(
            predict_bytes, model, body, content_type, max_batch_rows=max_rows, mlflow=mlflow
        )
    request.scope["state"]["model"] = result.model.summary()
    for observer in services.observers:
        try:
            observer(request, result)
        except Exception:
            log.exception("prediction observer %r failed", observer)
    return result


def _version_headers(result: Prediction) -> dict[str, str]:
    return {
        "x-model-name": result.model.name,
        "x-model-version": str(result.model.version),
        "x-model-source": result.model.source,
    }


@router.post(
    "/predict",
    summary="Predict with the served model",
    openapi_extra=_OPENAPI,
    responses=_responses(_PREDICT_OK),
)
async def predict(request: Request, model: CurrentModel, services: ServicesDep) -> JSONResponse:
    result = await _score(request, model, services, mlflow=False)
    return JSONResponse(
        {
            "predictions": result.predictions,
            "model": result.model.summary(),
            "request_id": request.scope.get("state", {}).get("request_id"),
            "processing_time_ms": round(result.elapsed_ms, 3),
        },
        headers=_version_headers(result),
    )


@router.post(
    "/invocations",
    summary="MLflow scoring-server compatible endpoint",
    description="Reads every body exactly as `mlflow models serve` does (README: "
    "/invocations); unknown keys and columns are ignored.",
    openapi_extra=_INVOCATIONS_OPENAPI,
    responses=_responses(_INVOCATIONS_OK),
)
async def invocations(request: Request, model: CurrentModel, services: ServicesDep) -> JSONResponse:
    result = await _score(request, model, services, mlflow=True)
    content = result.predictions if result.model_input.unwrapped else {"predictions": result.predictions}
    return JSONResponse(content, headers=_version_headers(result))
