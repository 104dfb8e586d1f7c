"""From request bytes to predictions with the model that is current right now."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidInput, ModelUnavailable
from app.model_loading.types import LoadedModel
from app.model_manager import ModelManager
from app.payload import ModelInput, parse_body, records_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    model: LoadedModel
    model_input: ModelInput
    predictions: list[Any]
    elapsed_ms: float


def predict_bytes(manager: ModelManager, body: bytes, content_type: str | None) -> Prediction:
    started = time.perf_counter()
    model = manager.current  # read once: this request finishes on this model
    if model is None:
        raise ModelUnavailable(manager.unavailable_reason)
    model_input = parse_body(body, content_type, model.schema, manager.settings.max_batch_rows)
    try:
        raw = model.predict(model_input.frame, model_input.params)
    except Exception as exc:  # noqa: BLE001 - the model rejected the input
        log.warning("model %s v%s failed to predict: %s", model.name, model.version,
                    type(exc).__name__)
        raise InvalidInput("The model could not score this input; check it against "
                           "GET /model/info signature.", field="body") from None
    predictions = records_of(raw)
    return Prediction(model, model_input, predictions, (time.perf_counter() - started) * 1000)
