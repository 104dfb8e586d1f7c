"""Pickle-based models whose unpickling leaves a marker file: proof of whether a pickle ran."""

from __future__ import annotations

import mlflow.pyfunc

from tests.reliability.custom_code import Marker


class MarkedModel(mlflow.pyfunc.PythonModel):
    """A custom python_model (the kind only mlflow.pyfunc can load) that predicts the row sum."""

    def __init__(self, marker: str) -> None:
        self.marker = Marker(marker)

    # Unannotated on purpose: MLflow reads predict's type hints as a signature (and warns).
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return model_input.sum(axis=1)
