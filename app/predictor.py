"""From request bytes to predictions with the model that is current right now."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from app.errors import ErrorCode, InvalidInput
from app.model_loading.types import LoadedModel
from app.param_schema import ParamSchema
from app.payload import Contract, ModelInput, parse_body, records_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    model: LoadedModel
    model_input: ModelInput
    predictions: Any
    elapsed_ms: float


def predict_bytes(
    model: LoadedModel, body: bytes, content_type: str | None, *, max_batch_rows: int, mlflow: bool = False
) -> Prediction:
    """Score a request body with ``model``; ``mlflow`` reads it as `mlflow models serve` would."""
    started = time.perf_counter()
    contract = Contract(model.schema, param_schema(model), max_batch_rows)
    model_input = parse_body(body, content_type, contract, mlflow=mlflow)
    try:
        raw = model.predict(model_input.frame, model_input.params)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the model rejected the input
        # (SystemExit too: model code that calls sys.exit() must not end the invocation)
        log.warning("model %s v%s failed to predict: %s", model.name, model.version, type(exc).__name__)
        raise InvalidInput(
            "The model could not score this input; check it against GET /model/info signature.",
            field="body",
            code=ErrorCode.MODEL_REFUSED,
        ) from None
    predictions = records_of(raw)
    return Prediction(model, model_input, predictions, (time.perf_counter() - started) * 1000)


def param_schema(model: LoadedModel) -> ParamSchema | None:
    params = (model.signature or {}).get("params")
    return _compiled(orjson.dumps(params)) if params else None


@lru_cache(maxsize=8)
def _compiled(params_json: bytes) -> ParamSchema | None:
    return ParamSchema.from_signature({"params": orjson.loads(params_json)})
