"""Pickle-based models whose unpickling leaves a marker file: proof of whether a pickle ran."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc

from tests.reliability.custom_code import Marker


class MarkedModel(mlflow.pyfunc.PythonModel):
    """A custom python_model (the kind only mlflow.pyfunc can load) that predicts the row sum."""

    def __init__(self, marker: str) -> None:
        self.marker = Marker(marker)

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input.sum(axis=1)
